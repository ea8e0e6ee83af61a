package backoff

import (
	"context"
	"testing"
	"time"
)

func TestWaitsDoubleUpToTheCap(t *testing.T) {
	b := New(time.Millisecond, 4*time.Millisecond)
	var got []time.Duration
	for range 4 {
		got = append(got, b.next)
		if !b.Wait(context.Background()) {
			t.Fatal("Wait ended early without a cancelled context")
		}
	}
	want := []time.Duration{time.Millisecond, 2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("wait %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestCancelledContextEndsTheWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if New(time.Hour, time.Hour).Wait(ctx) {
		t.Error("Wait reported a full hour's wait under a cancelled context")
	}
}
