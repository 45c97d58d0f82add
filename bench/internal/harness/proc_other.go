//go:build !linux

package harness

import (
	"os"
	"syscall"
)

// childAttr returns no special attributes outside Linux.
func childAttr() *syscall.SysProcAttr { return nil }

// signalProc signals the child process.
func signalProc(p *os.Process, sig syscall.Signal) {
	if sig == syscall.SIGKILL {
		_ = p.Kill()
		return
	}
	_ = p.Signal(sig)
}
