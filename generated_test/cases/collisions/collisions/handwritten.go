package collisions

// Package-level names of hand-written code that the generated files must
// neither capture nor clash with: the packages they use are imported under
// sg-prefixed names, and their unexported helpers carry the same prefix.

// codec, runtime, time and fmt are the default names of packages the
// generated files use.
var codec = "hand-written"

func runtime() string { return codec }

type time struct{ hour int }

var fmt = time{hour: 1}

// impressionResolver and deviceSymbols are the names the generated schema
// resolver of Impression and symbol table of Device used to have.
var impressionResolver, deviceSymbols = runtime(), fmt.hour

// index was the name of a generated method of enums.
func (d Device) index() int { return len(d) }
