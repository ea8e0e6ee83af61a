package errcase

// Event is written by hand.
type Event struct{ ID int64 }
