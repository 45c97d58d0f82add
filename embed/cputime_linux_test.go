package embed

import (
	"syscall"
	"time"
	"unsafe"
)

// threadCPUTime returns the calling thread's CPU time
// (CLOCK_THREAD_CPUTIME_ID), so that a benchmark can separate its own
// cost from time spent preempted on a busy machine. The caller must be
// locked to its thread.
func threadCPUTime() (time.Duration, bool) {
	const clockThreadCPUTimeID = 3
	var ts syscall.Timespec
	_, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0)
	if errno != 0 {
		return 0, false
	}
	return time.Duration(ts.Nano()), true
}
