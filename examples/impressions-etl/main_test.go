package main

import "testing"

// TestRun runs the example as the README does (go run
// ./examples/impressions-etl): the round trip and the read of the older
// writer's bytes must both succeed.
func TestRun(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
