package crashtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Topic is the topic the job reads (its spec subscribes to it).
const Topic = "sequence"

// OutTopic is where the Kafka sink configurations write, with as many
// partitions as Topic.
const OutTopic = "sequence-out"

// Binaries are the harness's programs.
type Binaries struct{ Broker, Job string }

// Build builds the broker and job programs into dir with the go command.
func Build(ctx context.Context, dir string) (Binaries, error) {
	b := Binaries{Broker: filepath.Join(dir, "broker"), Job: filepath.Join(dir, "job")}
	for bin, pkg := range map[string]string{b.Broker: "broker", b.Job: "job"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/streamgen/streamgen/internal/crashtest/"+pkg)
		// Static, as a job's image builds it; and the build cache the
		// Makefile's other builds fill (see NOCGO there).
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return b, fmt.Errorf("go build %s: %w\n%s", pkg, err, out)
		}
	}
	return b, nil
}

// Env is where a run happens.
type Env struct {
	Bin Binaries
	Dir string // the run's files: broker and job logs, handlers' output
	// DSN and Table are the PostgreSQL database and offsets table of
	// configurations with Postgres set.
	DSN, Table string
	Logf       func(format string, args ...any)
}

// proc is one job process.
type proc struct {
	slot   int
	out    *procFile
	cmd    *exec.Cmd
	intent string  // "" (running), "kill", "term", "stop", "frozen", "zombie"
	zombie *zombie // resumed after a freeze, until it exits or lives on
	forced atomic.Bool
	exited atomic.Bool
}

// logPath is the process's log, beside its output file.
func (p *proc) logPath() string { return strings.TrimSuffix(p.out.path, ".out") + ".log" }

// hungStop ends a process whose graceful stop hangs: SIGQUIT first, so
// its log ends with every goroutine's stack, then SIGKILL. Its records
// are then counted as a killed process's.
func (p *proc) hungStop() {
	p.forced.Store(true)
	p.cmd.Process.Signal(syscall.SIGQUIT)
	time.AfterFunc(5*time.Second, func() { p.cmd.Process.Kill() })
}

// stopHang is how long a graceful stop may take before hungStop; the
// job's own bound (ShutdownTimeout) is 2s.
const stopHang = 30 * time.Second

type exit struct {
	p   *proc
	err error
}

// Run runs one configuration: a broker, the producer, the job's replicas
// killed and restarted o.Kills times, then a graceful stop of everything
// and the count. The error lists what violated the configuration's
// guarantee, or what kept the run from finishing.
func Run(ctx context.Context, env Env, cfg Configuration, o Options) (res Result, err error) {
	res.Config = cfg
	start := time.Now()
	defer func() { res.Elapsed = time.Since(start) }()
	if cfg.Postgres && env.DSN == "" {
		return res, errors.New("configuration " + cfg.Name + " needs a PostgreSQL DSN")
	}
	if err := os.MkdirAll(env.Dir, 0o755); err != nil {
		return res, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return res, err
	}
	brokerAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	controlAddr := fmt.Sprintf("127.0.0.1:%d", ports[1])
	phase := time.Duration(o.Kills) * o.KillEvery
	kills := o.Kills
	if cfg.NoJobKills {
		kills = 0
	}
	if cfg.Table && cfg.Sink != "kafka" {
		return res, errors.New("configuration " + cfg.Name + ": a table needs the kafka sink")
	}
	brk, err := startBroker(env, ports[0], controlAddr, o.Partitions, cfg.Table)
	if err != nil {
		return res, err
	}
	defer func() { brk.stop() }()
	// The broker's kills, at random moments of the kill phase, each once
	// the job is seen handling records. While the broker is down the job
	// must go on retrying (kafka.outageLimit is minutes), not exit.
	if cfg.BrokerKills > 0 && o.BrokerKills > 0 {
		cfg.BrokerKills = o.BrokerKills
	}
	var brokerKills []time.Time
	for range cfg.BrokerKills {
		brokerKills = append(brokerKills, start.Add(rand.N(max(phase, time.Second))))
	}
	// The freezes, spread over the kill phase (while records are
	// produced, so that a replica asked to freeze in a batch has one),
	// each made once the job is seen publishing (see freezer).
	if cfg.Freezes > 0 && o.Freezes > 0 {
		cfg.Freezes = o.Freezes
	}
	fz := &freezer{}
	for i := range cfg.Freezes {
		slot := phase / time.Duration(cfg.Freezes)
		fz.due = append(fz.due, start.Add(time.Duration(i)*slot+rand.N(max(slot/4, time.Millisecond))))
	}
	brokerBack := make(chan error, 1)
	brokerDown := false
	killBroker := func() {
		brokerDown = true
		res.BrokerKills++
		brk.kill()
		env.Logf("%s: broker killed (%d of %d); back in %v", cfg.Name, res.BrokerKills, cfg.BrokerKills, cfg.BrokerDown)
		go func() {
			time.Sleep(cfg.BrokerDown)
			brokerBack <- brk.start()
		}()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	prod := &producer{topic: Topic}
	prodDone := make(chan error, 1)
	go func() { prodDone <- prod.run(ctx, brokerAddr, o.Records, o.Partitions, phase) }()
	// The table's writer, until every job process stopped.
	tw := &tableWriter{}
	twCtx, twStop := context.WithCancel(ctx)
	defer twStop()
	twDone := make(chan error, 1)
	if cfg.Table {
		go func() { twDone <- tw.run(twCtx, brokerAddr) }()
	} else {
		twDone <- nil
	}
	// Each fault three times, at random moments of the kill phase, each
	// once the job is seen handling records: in a group stalled in a
	// rebalance (see the job program) nothing fetches or commits, and a
	// fault would fail nothing.
	type pendingFault struct {
		Fault
		at time.Time
	}
	var faults []pendingFault
	for i := range 3 * len(cfg.Faults) {
		faults = append(faults, pendingFault{cfg.Faults[i%len(cfg.Faults)], start.Add(rand.N(max(phase, time.Second)))})
	}
	inject := func(f Fault) {
		if err := injectFault(ctx, controlAddr, f); err != nil && ctx.Err() == nil {
			env.Logf("%s: injecting %s faults: %v", cfg.Name, f.Request, err)
		}
	}

	t := newTally(Topic, o.Partitions)
	out, err := newSinkOutput(ctx, env, cfg, brokerAddr)
	if err != nil {
		return res, err
	}
	defer out.close()
	if out != nil {
		out.where = prod.where
	}
	// readAll counts what was handled so far: in the handlers' files, or
	// with a sink, in its output.
	readAll := t.readAll
	if out != nil {
		readAll = func() error { return t.fromSink(ctx, out) }
	}
	exits := make(chan exit, 64)
	restarts := make(chan int, 64)
	running := make(map[int]*proc) // by slot
	// After a failed run; a finished one has stopped them.
	defer func() {
		for _, p := range running {
			p.cmd.Process.Kill()
		}
	}()
	launch := func(slot int) error {
		p := &proc{slot: slot, out: t.add(filepath.Join(env.Dir, fmt.Sprintf("p%03d.out", len(t.procs))))}
		args := append([]string(nil), cfg.JobFlags...)
		args = append(args, "-out", p.out.path, "-instance", "replica-"+strconv.Itoa(slot),
			"-session-timeout", o.Session.String(), "-hold", o.Hold.String())
		if cfg.Postgres {
			args = append(args, "-dsn", env.DSN, "-table", env.Table)
		}
		if out != nil {
			args = append(args, out.flags()...)
		}
		if cfg.Table {
			args = append(args, "-table-topic", TableTopic, "-table-keys", strconv.Itoa(tableKeys))
		}
		args = append(args, "--", "--brokers", brokerAddr, "--status-addr", "")
		if cfg.Interval > 0 {
			args = append(args, "--interval", cfg.Interval.String())
		}
		p.cmd = exec.Command(env.Bin.Job, args...)
		logf, err := os.Create(p.logPath())
		if err != nil {
			return err
		}
		p.cmd.Stdout, p.cmd.Stderr = logf, logf
		p.out.started = time.Now()
		if err := p.cmd.Start(); err != nil {
			logf.Close()
			return fmt.Errorf("starting the job: %w", err)
		}
		running[slot] = p
		go func() {
			err := p.cmd.Wait()
			p.exited.Store(true)
			logf.Close()
			exits <- exit{p, err}
		}()
		return nil
	}
	replicas := o.Replicas
	if cfg.Replicas > 0 {
		replicas = cfg.Replicas
	}
	for slot := range replicas {
		if err := launch(slot); err != nil {
			return res, err
		}
	}

	// endTxnKill drives EndTxnKills, a tick at a time: it has the broker
	// hold the next committing EndTxn, and once one is held SIGKILLs the
	// job and, once the process is gone, has the broker commit the held
	// request (even kills) or drop it (odd ones).
	holding := false
	endTxnKill := func() error {
		if !holding {
			holding = true
			_, err := control(ctx, http.MethodPost, controlAddr, "/hold-endtxn")
			return err
		}
		held, err := control(ctx, http.MethodGet, controlAddr, "/held")
		if err != nil || held != "true" {
			return err
		}
		holding = false
		commit := res.EndTxnKills%2 == 0
		res.EndTxnKills++
		var gone []*proc
		for _, p := range running {
			if p.intent == "" {
				p.intent = "kill"
				p.cmd.Process.Kill()
				gone = append(gone, p)
			}
		}
		env.Logf("%s: job killed in its EndTxn (%d of %d); the broker then %s it", cfg.Name, res.EndTxnKills, cfg.EndTxnKills, map[bool]string{true: "commits", false: "drops"}[commit])
		go func() {
			for _, p := range gone {
				for !p.exited.Load() {
					time.Sleep(10 * time.Millisecond)
				}
			}
			control(ctx, http.MethodPost, controlAddr, fmt.Sprintf("/release?commit=%v", commit))
		}()
		return nil
	}

	// The kill phase, then the drain: the job handles everything
	// produced, or the drain times out.
	killTimer := time.NewTimer(rand.N(2 * o.KillEvery))
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var produced, drained bool
	var drainBy <-chan time.Time
	for !drained {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case err := <-prodDone:
			if err != nil {
				return res, fmt.Errorf("producer: %w", err)
			}
			produced = true
			if kills == 0 {
				drainBy = time.After(o.Drain)
			}
		case <-killTimer.C:
			if res.Kills >= kills {
				break
			}
			var alive []*proc
			for _, p := range running {
				if p.intent == "" {
					alive = append(alive, p)
				}
			}
			if len(alive) == 0 {
				killTimer.Reset(100 * time.Millisecond)
				break
			}
			p := alive[rand.IntN(len(alive))]
			if cfg.Graceful {
				p.intent = "term"
				p.cmd.Process.Signal(syscall.SIGTERM)
				time.AfterFunc(stopHang, func() {
					if !p.exited.Load() {
						p.hungStop()
					}
				})
			} else {
				p.intent = "kill"
				p.cmd.Process.Kill()
			}
			res.Kills++
			if res.Kills < kills {
				killTimer.Reset(rand.N(2 * o.KillEvery))
			} else {
				drainBy = time.After(o.Drain)
			}
		case e := <-exits:
			p := e.p
			p.out.ended = time.Now()
			p.out.killed = killedBy(e.err) || p.forced.Load()
			p.out.failedStop = !p.out.killed && e.err != nil && p.intent == "term"
			if p.forced.Load() {
				res.HungStops++
				env.Logf("%s: %s hung in its graceful stop; its goroutines are in its log", cfg.Name, p.out.path)
			}
			delete(running, p.slot)
			if fz.p == p {
				fz.p, fz.asked = nil, false // a freeze abandoned: the run lacks one
			}
			var wait time.Duration
			switch p.intent {
			case "zombie":
				fz.exited(p, &res)
				env.Logf("%s: zombie %s exited (%v); restarting it", cfg.Name, p.out.path, e.err)
				wait = 200 * time.Millisecond
			case "":
				res.Failures++
				if res.Failures > 20+5*o.Kills {
					return res, fmt.Errorf("the job keeps failing by itself (%d times); the last one: %s", res.Failures, p.logPath())
				}
				env.Logf("%s: %s exited by itself (%v); restarting it", cfg.Name, p.out.path, e.err)
				wait = 200 * time.Millisecond
			case "term":
				if e.err != nil {
					env.Logf("%s: %s stopped by SIGTERM with %v", cfg.Name, p.out.path, e.err)
				}
				fallthrough
			default:
				// Now and then after the session timeout, so the group
				// expires the replica and rebalances, and the next
				// kill may fall into the rebalance.
				wait = rand.N(o.Session * 3 / 2)
				if wait > o.Session {
					res.LateRestarts++
				}
			}
			time.AfterFunc(wait, func() {
				select {
				case restarts <- p.slot:
				case <-ctx.Done():
				}
			})
		case slot := <-restarts:
			if err := launch(slot); err != nil {
				return res, err
			}
		case <-tick.C:
			before := t.total
			if err := readAll(); err != nil {
				return res, err
			}
			for i := 0; i < len(faults); i++ {
				if f := faults[i]; t.total > before && time.Now().After(f.at) {
					go inject(f.Fault)
					faults = slices.Delete(faults, i, i+1)
					i--
				}
			}
			for i := 0; i < len(brokerKills); i++ {
				// Once the job is seen handling records, or once all
				// were produced (then there may be nothing left to see).
				if at := brokerKills[i]; !brokerDown && (t.total > before || produced) && time.Now().After(at) {
					killBroker()
					brokerKills = slices.Delete(brokerKills, i, i+1)
					break
				}
			}
			if res.EndTxnKills < cfg.EndTxnKills && (t.total > before || holding) {
				if err := endTxnKill(); err != nil {
					return res, err
				}
			}
			now := time.Now()
			for _, p := range running {
				if p.zombie != nil && now.Sub(p.zombie.resumed) > zombieLives {
					fz.lived(p)
				}
			}
			fz.step(now, running, replicas, t, t.total > before || produced, t.caughtUp(prod.ends()), o.Session, &res, env.Logf)
			zombies := false
			for _, p := range running {
				zombies = zombies || p.zombie != nil && p.zombie.inBatch
			}
			drained = produced && res.Kills >= kills && fz.done() && !zombies && res.EndTxnKills >= cfg.EndTxnKills && len(brokerKills) == 0 && !brokerDown && t.caughtUp(prod.ends())
			// The sinks' temporary output a killed instance left is
			// removed by the partition's next owner: with the last kill
			// after every record was published, that owner is a restart
			// still to come, so the drain waits for every replica to
			// run and the leftovers to go (the final check reports any
			// that never do).
			drained = drained && len(running) == replicas && (out == nil || out.leftovers(ctx) == nil)
		case err := <-brokerBack:
			if err != nil {
				return res, fmt.Errorf("restarting the broker: %w", err)
			}
			brokerDown = false
		case <-drainBy:
			env.Logf("%s: the job did not handle every produced record within %v of the last kill", cfg.Name, o.Drain)
			drained = true
		}
	}

	// A graceful stop of every replica; restarts still pending are
	// dropped.
	for _, p := range running {
		if p.intent == "frozen" {
			p.cmd.Process.Signal(syscall.SIGCONT) // a drain that timed out
		}
		p.intent = "stop"
		p.cmd.Process.Signal(syscall.SIGTERM)
	}
	deadline := time.After(stopHang)
	for len(running) > 0 {
		select {
		case e := <-exits:
			e.p.out.ended = time.Now()
			e.p.out.killed = killedBy(e.err) || e.p.forced.Load()
			e.p.out.failedStop = !e.p.out.killed && e.err != nil
			if e.p.forced.Load() {
				res.HungStops++
				env.Logf("%s: %s hung in its graceful stop; its goroutines are in its log", cfg.Name, e.p.out.path)
			} else if e.err != nil {
				env.Logf("%s: %s ended with %v at the final stop", cfg.Name, e.p.out.path, e.err)
			}
			if running[e.p.slot] == e.p {
				delete(running, e.p.slot)
			}
		case <-restarts:
		case <-deadline:
			for _, p := range running {
				p.hungStop()
			}
			deadline = nil
		}
	}
	if out != nil {
		out.final = true
	}
	if err := readAll(); err != nil {
		return res, err
	}
	if out != nil {
		err = out.leftovers(ctx)
	}
	twStop()
	if werr := <-twDone; werr != nil {
		err = errors.Join(err, fmt.Errorf("the table's writer: %w", werr))
	}
	if cfg.Table {
		tw.mu.Lock()
		var terr error
		lives := make(map[string]life)
		for _, p := range t.procs {
			lives[strings.TrimSuffix(filepath.Base(p.path), ".out")] = life{p.started, p.ended}
		}
		res.Table, terr = checkTable(out.read, tw.sent, tw.acked, lives)
		tw.mu.Unlock()
		err = errors.Join(err, terr)
		if res.Table.Found == 0 {
			err = errors.Join(err, errors.New("no output record found its key in the table: the run shows nothing about it"))
		}
	}
	res.Faults, res.FaultsHit = faultCounts(ctx, controlAddr)
	err = errors.Join(err, t.check(&res, prod.produced()))
	if len(cfg.Faults) > 0 && res.FaultsHit == 0 {
		err = errors.Join(err, errors.New("the broker failed no request: the run shows nothing about faults"))
	}
	if (len(cfg.Faults) > 0 || cfg.BrokerKills > 0) && res.Failures > 0 {
		err = errors.Join(err, fmt.Errorf("the job exited by itself %d times: it must ride broker faults out (see the job logs)", res.Failures))
	}
	if res.EndTxnKills < cfg.EndTxnKills {
		err = errors.Join(err, fmt.Errorf("the job was killed in its EndTxn %d times, want %d", res.EndTxnKills, cfg.EndTxnKills))
	}
	err = errors.Join(err, errors.Join(fz.errs...))
	if res.Freezes < cfg.Freezes {
		err = errors.Join(err, fmt.Errorf("replicas were frozen and resumed %d times, want %d", res.Freezes, cfg.Freezes))
	}
	if cfg.Freezes > 0 && res.InBatch == 0 {
		err = errors.Join(err, errors.New("no replica froze with a batch in flight: the run shows nothing about fencing zombies"))
	}
	if res.BrokerKills < cfg.BrokerKills {
		err = errors.Join(err, fmt.Errorf("the broker was killed %d times, want %d", res.BrokerKills, cfg.BrokerKills))
	}
	return res, err
}

// killedBy reports whether a job process's exit was a SIGKILL.
func killedBy(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// broker is the broker program's process, which the driver may SIGKILL
// and start again on the same port with the same data directory.
type broker struct {
	env        Env
	port       int
	control    string
	partitions int
	table      bool // with TableTopic
	data       string
	log        *os.File
	cmd        *exec.Cmd
	done       chan struct{}
}

// startBroker starts the broker program and waits until it is ready.
func startBroker(env Env, port int, control string, partitions int, table bool) (*broker, error) {
	logf, err := os.Create(filepath.Join(env.Dir, "broker.log"))
	if err != nil {
		return nil, err
	}
	b := &broker{env: env, port: port, control: control, partitions: partitions, table: table, data: filepath.Join(env.Dir, "broker-data"), log: logf}
	if err := b.start(); err != nil {
		logf.Close()
		return nil, err
	}
	return b, nil
}

// start runs the program, reloading what it persisted before, and waits
// until it says it is ready.
func (b *broker) start() error {
	cmd := exec.Command(b.env.Bin.Broker, "-port", strconv.Itoa(b.port), "-control", b.control,
		"-topic", Topic, "-partitions", strconv.Itoa(b.partitions), "-data", b.data, "-output", OutTopic)
	if b.table {
		cmd.Args = append(cmd.Args, "-table", TableTopic)
	}
	cmd.Stderr = b.log
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the broker: %w", err)
	}
	b.cmd, b.done = cmd, make(chan struct{})
	go func(done chan struct{}) { cmd.Wait(); close(done) }(b.done)
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "ready" {
			err = fmt.Errorf("broker said %q", line)
		}
		ready <- err
		io.Copy(io.Discard, stdout)
	}()
	select {
	case err = <-ready:
	case <-time.After(20 * time.Second):
		err = errors.New("not ready after 20s")
	}
	if err != nil {
		b.kill()
		return fmt.Errorf("broker on port %d (log in %s): %w", b.port, b.log.Name(), err)
	}
	return nil
}

// kill SIGKILLs the broker and waits until it is gone.
func (b *broker) kill() {
	b.cmd.Process.Kill()
	<-b.done
}

// stop ends the broker gracefully, or kills it after 10s.
func (b *broker) stop() {
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.done:
	case <-time.After(10 * time.Second):
		b.kill()
	}
	b.log.Close()
}

// freePorts returns n loopback ports that were free a moment ago and that
// no other run of this process was given.
func freePorts(n int) ([]int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	var ports []int
	for len(ports) < n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		port := ln.Addr().(*net.TCPAddr).Port
		if portsGiven[port] {
			continue // another run's broker may be down and back on it
		}
		portsGiven[port] = true
		ports = append(ports, port)
	}
	return ports, nil
}

// portsGiven holds every port freePorts has handed out in this process:
// runs side by side (TestCrashRestart runs several at once) never share
// one, even while a killed broker's port is closed.
var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

func injectFault(ctx context.Context, control string, f Fault) error {
	u := fmt.Sprintf("http://%s/fault?request=%s&percent=%d&for=%s", control, f.Request, f.Percent, f.For)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, body)
	}
	return nil
}

// control makes a request of the broker program's control endpoint and
// returns its answer's first line.
func control(ctx context.Context, method, addr, path string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, nil)
	if err != nil {
		return "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, body)
	}
	return strings.TrimSpace(string(body)), nil
}

// faultCounts is the broker's account of the requests it failed, and
// their total.
func faultCounts(ctx context.Context, control string) (string, int) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+control+"/faults", nil)
	if err != nil {
		return "", 0
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	f := strings.Fields(string(body)) // request count request count ...
	total := 0
	for i := 1; i < len(f); i += 2 {
		n, _ := strconv.Atoi(f[i])
		total += n
	}
	return strings.Join(f, " "), total
}
