package errcase

// Config is the user's own.
type Config struct{ Verbose bool }

func Run() error { return nil }

// error shadows Go's predeclared error, which the generated code uses.
var error = "e"

// codec and runtime are free: the generated files import those packages
// as sgcodec and sgruntime.
var codec, runtime = 1, 2
