package backoff

import (
	"context"
	"errors"
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

func TestRetryStopsOnWhatFailedReturns(t *testing.T) {
	final := errors.New("refused")
	tries := 0
	err := Retry{First: time.Microsecond, Failed: func(err error, n int) error {
		if n == 3 {
			return final
		}
		return nil
	}}.Do(context.Background(), func() error { tries++; return errors.New("not yet") })
	if err != final || tries != 3 {
		t.Errorf("Do = %v after %d tries, want %v after 3", err, tries, final)
	}
}

func TestRetryTellsRecoveredHowManyFailed(t *testing.T) {
	tries, recovered := 0, 0
	err := Retry{First: time.Microsecond, Recovered: func(n int) { recovered = n }}.Do(context.Background(), func() error {
		if tries++; tries < 4 {
			return errors.New("not yet")
		}
		return nil
	})
	if err != nil || recovered != 3 {
		t.Errorf("Do = %v, Recovered told %d, want nil and 3", err, recovered)
	}
}

func TestRetryForBoundsTheLoop(t *testing.T) {
	last := errors.New("down")
	err := Retry{First: time.Millisecond, For: 20 * time.Millisecond}.Do(context.Background(), func() error { return last })
	if err != last {
		t.Errorf("Do = %v, want the last error once For passed", err)
	}
}

func TestRetryEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	tries := 0
	err := Retry{First: time.Hour}.Do(ctx, func() error {
		tries++
		cancel()
		return errors.New("down")
	})
	if err == nil || tries != 1 {
		t.Errorf("Do = %v after %d tries, want op's error after 1", err, tries)
	}
}
