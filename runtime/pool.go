package runtime

import (
	"context"
	"sync"
	"time"
)

// pool is a fixed set of workers, each with its own queue, so that a task
// routed to worker w always runs on w: that is what lets PreferConsistent
// keep a partition's per-worker state warm across batches.
//
// The workers also decode fetched records, from one queue they share (a
// chunk may decode anywhere). A worker takes its own tasks first, so a
// batch's ForeachPartition never waits behind the decoding of the records
// fetched for the batches after it.
type pool struct {
	queues  []chan func()
	decodes chan func()
	wg      sync.WaitGroup
}

// inlinePool runs tasks on the caller's goroutine; it backs batches built
// outside an engine (tests, replays).
var inlinePool = &pool{}

// decodeQueue is the capacity of the shared decode queue: more chunks than
// decodeAhead and one fetch response make, so queueing one never blocks
// the polling goroutine in practice.
const decodeQueue = 4096

func newPool(workers int) *pool {
	p := &pool{queues: make([]chan func(), workers), decodes: make(chan func(), decodeQueue)}
	for i := range p.queues {
		q := make(chan func(), 64)
		p.queues[i] = q
		p.wg.Add(1)
		go p.work(q)
	}
	return p
}

func (p *pool) work(q chan func()) {
	defer p.wg.Done()
	dq := p.decodes
	for q != nil || dq != nil {
		select {
		case f, ok := <-q:
			if ok {
				f()
			} else {
				q = nil
			}
			continue
		default:
		}
		select {
		case f, ok := <-q:
			if ok {
				f()
			} else {
				q = nil
			}
		case f, ok := <-dq:
			if ok {
				f()
			} else {
				dq = nil
			}
		}
	}
}

func (p *pool) size() int { return max(len(p.queues), 1) }

func (p *pool) close() {
	for _, q := range p.queues {
		close(q)
	}
	if p.decodes != nil {
		close(p.decodes)
	}
	p.wg.Wait()
}

// submitDecode queues f on the shared decode queue without waiting for it.
func (p *pool) submitDecode(f func()) {
	if len(p.queues) == 0 {
		f()
		return
	}
	p.decodes <- f
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
}

func (r retryPolicy) do(ctx context.Context, rng OffsetRange, attempt func(n int) error) error {
	tries := max(r.maxFailures, 1)
	wait := r.backoff
	var err error
	for n := range tries {
		if err = attempt(n); err == nil {
			return nil
		}
		if n == tries-1 || ctx.Err() != nil {
			return &TaskError{Range: rng, Attempts: n + 1, Err: err}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return &TaskError{Range: rng, Attempts: n + 1, Err: err}
		case <-t.C:
		}
		wait = min(wait*2, 10*time.Second)
	}
	return &TaskError{Range: rng, Attempts: tries, Err: err}
}
