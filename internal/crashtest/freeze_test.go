package crashtest

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestZombieThatLivedSaysWhy checks the two ways a replica resumed into
// a batch can outlive zombieLives without being fenced: stopped again,
// said so; or running, ended with SIGQUIT so that its log holds its
// goroutines' stacks.
func TestZombieThatLivedSaysWhy(t *testing.T) {
	for _, stopped := range []bool{true, false} {
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Skip("no sleep command:", err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if stopped {
			cmd.Process.Signal(syscall.SIGSTOP)
			for !processStopped(cmd.Process.Pid) {
				time.Sleep(time.Millisecond) // polls the condition
			}
		}
		p := &proc{cmd: cmd, out: &procFile{path: "p001.out"}, intent: "zombie", zombie: &zombie{inBatch: true}}
		var f freezer
		f.lived(p)
		want := "ran on for"
		if stopped {
			want = "stopped again"
		}
		if len(f.errs) != 1 || !strings.Contains(f.errs[0].Error(), want) || !strings.Contains(f.errs[0].Error(), "p001.log") {
			t.Fatalf("stopped %v: errors %v, want one saying %q and naming p001.log", stopped, f.errs, want)
		}
		if p.zombie != nil || p.intent != "" {
			t.Errorf("stopped %v: still a zombie after lived (intent %q)", stopped, p.intent)
		}
		if stopped {
			cmd.Process.Kill()
			<-done
			continue
		}
		if err := <-done; err == nil || !strings.Contains(err.Error(), "quit") {
			t.Errorf("a running zombie that lived ended with %v, want SIGQUIT", err)
		}
	}
}
