package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestStopSelfStopsBeforeReturning checks that the job's freeze holds the
// goroutine that asks for it: once every thread of the process is
// stopped, the code after stopSelf has not run. A process-directed
// SIGSTOP did not promise that: the kernel gives it to a thread of its
// choosing, and the caller ran on until that thread was scheduled and
// stopped the rest. On a loaded machine that was long enough for a
// frozen batch's handler to return and its Store to check ownership
// before the freeze, so the zombie rows' resumed replica went on
// unfenced. Here the child runs on one CPU, as on a loaded machine: the
// thread the kernel picks waits for the caller's time slice.
func TestStopSelfStopsBeforeReturning(t *testing.T) {
	if os.Getenv("STOPSELF_CHILD") != "" {
		stopSelfChild()
		return
	}
	const rounds = 300
	marks := filepath.Join(t.TempDir(), "after")
	cmd := exec.Command(os.Args[0], "-test.run=^TestStopSelfStopsBeforeReturning$")
	cmd.Env = append(os.Environ(), "STOPSELF_CHILD="+marks)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	startOnOneCPU(t, cmd)
	defer cmd.Process.Kill()
	lines := bufio.NewScanner(stdout)
	pid := cmd.Process.Pid
	for i := range rounds {
		fmt.Fprintf(stdin, "%d\n", i)
		if !lines.Scan() || lines.Text() != "before "+strconv.Itoa(i) {
			t.Fatalf("round %d: child said %q (%v), want %q", i, lines.Text(), lines.Err(), "before "+strconv.Itoa(i))
		}
		deadline := time.Now().Add(10 * time.Second)
		for !allThreadsStopped(pid) {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: the child did not stop within 10s", i)
			}
			goruntime.Gosched()
		}
		if b, _ := os.ReadFile(marks); bytes.Equal(b, []byte(strconv.Itoa(i))) {
			t.Fatalf("round %d: the code after stopSelf ran before the process stopped", i)
		}
		cmd.Process.Signal(unix.SIGCONT)
		if !lines.Scan() || lines.Text() != "after "+strconv.Itoa(i) {
			t.Fatalf("round %d: child said %q (%v) after SIGCONT, want %q", i, lines.Text(), lines.Err(), "after "+strconv.Itoa(i))
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
}

// stopSelfChild is the test's child: each round, on a line from its
// parent, it says so, stops itself, and marks that it went on.
func stopSelfChild() {
	marks := os.Getenv("STOPSELF_CHILD")
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		fmt.Printf("before %s\n", in.Text())
		stopSelf()
		os.WriteFile(marks, in.Bytes(), 0o644)
		fmt.Printf("after %s\n", in.Text())
	}
	os.Exit(0)
}

// startOnOneCPU starts cmd pinned to the first CPU this process may use:
// a child inherits the affinity of the thread that forks it.
func startOnOneCPU(t *testing.T, cmd *exec.Cmd) {
	goruntime.LockOSThread()
	defer goruntime.UnlockOSThread()
	var was, one unix.CPUSet
	if err := unix.SchedGetaffinity(0, &was); err != nil {
		t.Fatal(err)
	}
	for c := range 1024 {
		if was.IsSet(c) {
			one.Set(c)
			break
		}
	}
	if err := unix.SchedSetaffinity(0, &one); err != nil {
		t.Fatal(err)
	}
	defer unix.SchedSetaffinity(0, &was)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
}

// allThreadsStopped reports whether every thread of process pid is
// stopped by a signal (state T in its /proc stat).
func allThreadsStopped(pid int) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
		i := bytes.LastIndexByte(b, ')')
		if err != nil || i < 0 || i+2 >= len(b) || b[i+2] != 'T' {
			return false
		}
	}
	return true
}
