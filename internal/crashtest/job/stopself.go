package main

import (
	goruntime "runtime"
	"syscall"
)

// stopSelf stops the process (SIGSTOP) before the calling goroutine goes
// on: the signal is sent to the calling thread, which takes it on its way
// back from tgkill and stops the whole process (a stop is the thread
// group's). Sent to the process, the kernel would give it to a thread
// of its choosing (usually the main one), and the caller would run on
// until that thread was scheduled; on a loaded machine that was long
// enough for a handler that froze its batch to return, and for the
// batch's Store to check ownership, before the process stopped.
func stopSelf() {
	goruntime.LockOSThread() // Gettid names the thread tgkill runs on
	defer goruntime.UnlockOSThread()
	syscall.Tgkill(syscall.Getpid(), syscall.Gettid(), syscall.SIGSTOP)
}
