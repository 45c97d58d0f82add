//go:build linux

package harness

import (
	"os"
	"syscall"
)

// childAttr puts a child in its own process group and has the kernel kill it
// when the thread that started it dies. Go only ends an OS thread when a
// goroutine exits while locked to it, which this package never does, so in
// practice the child dies with the benchmark process.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// signalProc signals the child's whole process group, so that anything it
// started goes too; it falls back to the process alone.
func signalProc(p *os.Process, sig syscall.Signal) {
	if err := syscall.Kill(-p.Pid, sig); err != nil {
		_ = p.Signal(sig)
	}
}
