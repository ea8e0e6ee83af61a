package runtime

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// drainStore is a txnStore that holds output open across batches, as the
// rolling blob sink does: drain is what its Drain does.
type drainStore struct {
	txnStore
	mu      sync.Mutex
	drains  int
	owned   int // partitions the engine owned when Drain ran
	e       *Engine
	drain   func() error
	stored  int64
	drained int64 // stored batches' records when Drain ran
}

func (s *drainStore) Store(ctx context.Context, b StoredBatch) error {
	s.mu.Lock()
	for _, r := range b.Ranges {
		s.stored += r.Count()
	}
	s.mu.Unlock()
	return s.txnStore.Store(ctx, b)
}

func (s *drainStore) Drain(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drains++
	s.owned = len(s.e.owned())
	s.drained = s.stored
	return s.drain()
}

var _ Drainer = (*drainStore)(nil)

// TestDrainAtGracefulStop: a graceful stop calls the store's Drain once,
// after the last batch stored and while the engine still owns its
// partitions; a fenced Drain is logged, another error is Run's; a job
// that fails never drains.
func TestDrainAtGracefulStop(t *testing.T) {
	fenced := &FencedError{Range: OffsetRange{Topic: testTopic}, Stored: 3, Store: "test", Why: "another instance took it"}
	for _, tc := range []struct {
		name       string
		drain      error
		handlerErr error
		wantErr    string // "" for none
		wantDrains int
	}{
		{name: "stop", wantDrains: 1},
		{name: "fenced", drain: fenced, wantDrains: 1},
		{name: "failing", drain: errors.New("bucket unreachable"), wantErr: "offset store: drain: bucket unreachable", wantDrains: 1},
		{name: "job fails", handlerErr: errors.New("handler broke"), wantErr: "handler broke", wantDrains: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addrs := newCluster(t, 2, testTopic)
			produce(t, addrs, testTopic, 2, 20)
			var logs logBuffer
			s := &drainStore{drain: func() error { return tc.drain }}
			e, err := New(Group("etl"), Brokers(addrs...), BatchInterval(20*time.Millisecond), StartFrom(StartEarliest()),
				WithSemantics(ExactlyOnce), WithOffsetStore(s), Logger(slog.New(slog.NewTextHandler(&logs, nil))))
			if err != nil {
				t.Fatal(err)
			}
			s.e = e
			if _, err := NewStream(e, "impressions", Subscribe(testTopic), BytesDecoder, StringDecoder); err != nil {
				t.Fatal(err)
			}
			errc := make(chan error, 1)
			go func() {
				errc <- e.Run(context.Background(), func(context.Context, *JobBatch) error { return tc.handlerErr })
			}()
			if tc.handlerErr == nil {
				waitFor(t, "every record stored", 10*time.Second, func() bool {
					s.mu.Lock()
					defer s.mu.Unlock()
					return s.stored == 40
				})
				if err := e.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			err = <-errc
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Run = %v, want %q", err, tc.wantErr)
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			if s.drains != tc.wantDrains {
				t.Fatalf("Drain called %d times, want %d", s.drains, tc.wantDrains)
			}
			if tc.wantDrains > 0 && (s.owned != 2 || s.drained != 40) {
				t.Errorf("Drain ran owning %d partitions after %d records stored, want 2 and 40", s.owned, s.drained)
			}
			if tc.drain == fenced && !strings.Contains(strings.Join(logs.lines(), "\n"), "another instance owns a partition now") {
				t.Errorf("the fenced Drain was not logged:\n%s", strings.Join(logs.lines(), "\n"))
			}
		})
	}
}
