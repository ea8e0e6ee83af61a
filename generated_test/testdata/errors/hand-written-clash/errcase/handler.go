package errcase

// Config is the user's own.
type Config struct{ Verbose bool }

func Run() error { return nil }
