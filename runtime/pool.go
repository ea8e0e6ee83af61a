package runtime

import (
	"context"
	"sync"
	"time"

	"github.com/streamgen/streamgen/internal/backoff"
)

// This file owns the workers that decode chunks and run partition tasks,
// and the task retries.

// pool is a fixed set of workers, each with its own queue, so that a task
// routed to worker w always runs on w: that is what lets PreferConsistent
// keep a partition's per-worker state warm across batches.
//
// Decoding fetched records has goroutines of its own, as many as the
// workers, fed from one queue (a chunk may decode anywhere): a decode that
// waits on a schema registry that is down holds up later decodes, never a
// batch's ForeachPartition tasks, and the Go scheduler shares the cores
// between the two kinds of work.
type pool struct {
	queues  []chan func()
	decodes chan func(context.Context)
	// ctx ends when the engine stops: queued decodes are then dropped
	// and submitDecode gives up rather than wait for room.
	ctx context.Context
	wg  sync.WaitGroup
}

// inlinePool runs tasks on the caller's goroutine; it backs batches built
// outside an engine (tests, replays).
var inlinePool = &pool{ctx: context.Background()}

// decodeQueue is the capacity of the decode queue: more chunks than
// decodeAhead and one fetch response make, so queueing one rarely waits.
// A variable only for tests that fill it (export_test.go).
var decodeQueue = 4096

func newPool(ctx context.Context, workers int) *pool {
	p := &pool{queues: make([]chan func(), workers), decodes: make(chan func(context.Context), decodeQueue), ctx: ctx}
	for i := range p.queues {
		q := make(chan func(), 64)
		p.queues[i] = q
		p.wg.Go(func() {
			for f := range q {
				f()
			}
		})
		p.wg.Go(func() {
			for f := range p.decodes {
				f(ctx)
			}
		})
	}
	return p
}

// close ends the workers once their queues are done. Nothing may submit
// after it is called.
func (p *pool) close() {
	for _, q := range p.queues {
		close(q)
	}
	if p.decodes != nil {
		close(p.decodes)
	}
	p.wg.Wait()
}

// submitDecode queues f for a decoder without waiting for it to run. It
// reports false, without queueing, once the engine is stopping.
func (p *pool) submitDecode(f func(context.Context)) bool {
	if len(p.queues) == 0 {
		f(p.ctx)
		return true
	}
	if p.ctx.Err() != nil {
		return false
	}
	select {
	case p.decodes <- f:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// run executes task(i) for i in [0,n) on worker slot(i) and waits for all.
// The first error cancels the context of the tasks still running and is
// returned.
func (p *pool) run(ctx context.Context, n int, slot func(int) int, task func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		once     sync.Once
		firstErr error
	)
	fail := func(err error) {
		once.Do(func() { firstErr = err; cancel() })
	}
	for i := range n {
		wg.Add(1)
		s := 0
		if len(p.queues) > 0 {
			s = slot(i) % len(p.queues)
			if s < 0 {
				s += len(p.queues)
			}
		}
		f := func() {
			defer wg.Done()
			if ctx.Err() != nil {
				fail(ctx.Err())
				return
			}
			if err := task(context.WithValue(ctx, workerKey{}, s), i); err != nil {
				fail(err)
			}
		}
		if len(p.queues) == 0 {
			f()
			continue
		}
		p.queues[s] <- f
	}
	wg.Wait()
	return firstErr
}

type workerKey struct{}

// WorkerFromContext reports which worker of the pool runs the task whose
// context this is. Location strategies keep a partition on one worker, so
// per-worker state (open files, connections, caches) indexed by it stays
// warm across batches.
func WorkerFromContext(ctx context.Context) (worker int, ok bool) {
	worker, ok = ctx.Value(workerKey{}).(int)
	return worker, ok
}

// retryPolicy is Spark's spark.task.maxFailures with a doubling backoff.
type retryPolicy struct {
	maxFailures int
	backoff     time.Duration
	// beforeRetry, if set, is told before each retry of a range's task.
	beforeRetry func(OffsetRange)
}

func (r retryPolicy) do(ctx context.Context, rng OffsetRange, attempt func(n int) error) error {
	tries, n := max(r.maxFailures, 1), 0
	err := backoff.Retry{First: r.backoff, Max: 10 * time.Second, Failed: func(err error, failures int) error {
		if failures == tries {
			return err
		}
		return nil
	}}.Do(ctx, func() error {
		if n > 0 && r.beforeRetry != nil {
			r.beforeRetry(rng)
		}
		n++
		return attempt(n - 1)
	})
	if err != nil {
		return &TaskError{Range: rng, Attempts: n, Err: err}
	}
	return nil
}
