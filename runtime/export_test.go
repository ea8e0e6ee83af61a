package runtime

// SetDecodeQueue sets the decode queue's capacity for engines made
// afterwards, and returns a function that restores it: a test that fills
// the queue needs fewer records with a smaller one.
func SetDecodeQueue(n int) (restore func()) {
	old := decodeQueue
	decodeQueue = n
	return func() { decodeQueue = old }
}
