package crashtest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"time"
)

// freezer drives a configuration's Freezes (see Configuration.Freezes),
// a step per tick of the driver's loop: it freezes a replica, waits
// until the other has taken its partitions over, and resumes it as a
// zombie.
type freezer struct {
	due []time.Time // when each freeze to come may start
	n   int         // freezes begun
	p   *proc       // the replica being frozen; nil between freezes
	// asked: p was asked (SIGUSR1) to freeze itself in a batch and has
	// not stopped yet; since is when it was asked, or when it stopped.
	asked   bool
	inBatch bool
	since   time.Time
	// ends are the partitions' published ends once p stopped (nil until
	// the first count after the stop): the other replica has taken over
	// once each has grown.
	ends []int64
	errs []error
}

// askFor is how long the driver waits for a job asked to freeze in a
// batch to stop: longer than the job honours the request (the job's
// freezeWithin, 3s), so a request never outlives the driver's wait.
const askFor = 4 * time.Second

// frozenFor bounds a freeze: the other replica must have taken the
// frozen one's partitions over well within it.
const frozenFor = 60 * time.Second

// step advances the freeze in progress, or starts the next one when it
// is due, the replicas all run, and the job was just seen publishing.
func (f *freezer) step(now time.Time, running map[int]*proc, replicas int, t *tally, progressed, caughtUp bool, session time.Duration, res *Result, logf func(string, ...any)) {
	if f.p == nil {
		if len(f.due) == 0 || now.Before(f.due[0]) || !progressed || len(running) < replicas {
			return
		}
		var alive []*proc
		for _, p := range running {
			if p.intent != "" || now.Sub(p.out.started) < time.Second {
				return // a replica stopping or starting: wait for a calm moment
			}
			alive = append(alive, p)
		}
		f.due = f.due[1:]
		f.p = alive[rand.IntN(len(alive))]
		f.p.intent = "frozen"
		f.since = now
		f.n++
		f.inBatch = f.n%2 == 1
		if f.inBatch {
			f.asked = true
			f.p.cmd.Process.Signal(syscall.SIGUSR1)
			return
		}
		f.p.cmd.Process.Signal(syscall.SIGSTOP)
		f.stopped(now)
		return
	}
	if f.asked {
		switch {
		case processStopped(f.p.cmd.Process.Pid):
			f.asked = false
			f.stopped(now)
		case now.Sub(f.since) > askFor:
			// No batch with records came: freeze it anywhere.
			logf("%s did not freeze in a batch within %v; stopping it", f.p.out.path, askFor)
			f.asked, f.inBatch = false, false
			f.p.cmd.Process.Signal(syscall.SIGSTOP)
			f.stopped(now)
		}
		return
	}
	if f.ends == nil {
		// The first count wholly after the stop: one that listed the
		// bucket while p still published would let a publication of
		// p's own pass for the other replica's.
		for _, c := range t.count {
			f.ends = append(f.ends, int64(len(c)))
		}
		return
	}
	moved := true
	for part, end := range f.ends {
		if int64(len(t.count[part])) <= end {
			moved = false
		}
	}
	frozen := now.Sub(f.since)
	if frozen > frozenFor {
		f.errs = append(f.errs, fmt.Errorf("%s: frozen for %v, its partitions never moved to the other replica", f.p.out.path, frozenFor))
	} else if frozen < 2*session || !(moved || caughtUp) {
		return
	}
	f.p.cmd.Process.Signal(syscall.SIGCONT)
	f.p.intent = "zombie"
	f.p.zombie = &zombie{inBatch: f.inBatch, resumed: now}
	res.Freezes++
	if f.inBatch {
		res.InBatch++
	}
	logf("%s resumed as a zombie after %v frozen (in a batch: %v)", f.p.out.path, frozen.Round(time.Millisecond), f.inBatch)
	f.p = nil
}

// stopped notes when f.p stopped; the next step notes the published
// ends then.
func (f *freezer) stopped(now time.Time) {
	f.since = now
	f.ends = nil
}

// done reports whether every freeze was made and resumed.
func (f *freezer) done() bool { return len(f.due) == 0 && f.p == nil }

// zombie is a replica resumed after a freeze.
type zombie struct {
	inBatch bool
	resumed time.Time
}

// zombieLives bounds how long a resumed replica stays a zombie: one that
// has not exited by then rejoined the group and is a replica again.
const zombieLives = 10 * time.Second

// exited judges a zombie's exit from its log: its sink fenced it, or (a
// zombie frozen between batches) it exited otherwise; a zombie that
// resumed into a batch in flight must have been fenced.
func (f *freezer) exited(p *proc, res *Result) {
	log, _ := os.ReadFile(p.logPath())
	if bytes.Contains(log, []byte("fenced")) {
		res.Fenced++
		return
	}
	if p.zombie.inBatch {
		f.errs = append(f.errs, fmt.Errorf("%s resumed with a batch in flight on partitions it lost, and exited without being fenced", p.out.path))
	}
}

// lived ends the zombie state of a replica that went on running: one
// that resumed into a batch in flight must have been fenced, which fails
// the job, so it cannot go on. Such a replica is either stopped again
// (said so) or stuck: it is then ended as a hung stop is, so that its
// log ends with every goroutine's stack.
func (f *freezer) lived(p *proc) {
	if p.zombie.inBatch {
		log := p.logPath()
		if processStopped(p.cmd.Process.Pid) {
			f.errs = append(f.errs, fmt.Errorf("%s resumed with a batch in flight on partitions it lost, and was stopped again %v after its SIGCONT (see %s)", p.out.path, zombieLives, log))
		} else {
			f.errs = append(f.errs, fmt.Errorf("%s resumed with a batch in flight on partitions it lost, and ran on for %v without being fenced (its goroutines' stacks end %s)", p.out.path, zombieLives, log))
			p.hungStop()
		}
	}
	p.intent, p.zombie = "", nil
}

// processStopped reports whether process pid is stopped by a signal
// (state T in /proc/PID/stat).
func processStopped(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'T'
}
