// Package harness holds the pieces that semgate's benchmark scenarios share:
// child processes that are always stopped and reaped, readiness polling, free
// loopback ports, the wrk runner and its output parser, small statistics and
// a description of the machine a run happened on.
package harness

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is a child process owned by a benchmark. Its standard output and error
// go to a log file; Stop ends and reaps it. The goroutine that waits for the
// process is owned by the Proc and ends when the process does.
type Proc struct {
	Name    string
	LogPath string

	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error // set before done is closed
	stop    sync.Once
}

// StartProc starts argv as a child named name, logging to logDir/name.log.
// On Linux the child runs in its own process group (so a Ctrl-C in the
// terminal reaches only the benchmark, which then stops its children in
// order) and is killed by the kernel if the benchmark dies without stopping
// it.
func StartProc(name, logDir string, argv ...string) (*Proc, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("start %s: empty command", name)
	}
	logPath := filepath.Join(logDir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Proc{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// Pid is the child's process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the process has exited and been reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }

// ExitErr describes how the process ended; call it only after Done.
func (p *Proc) ExitErr() error { return p.waitErr }

// Stop asks the process (and its process group) to end with SIGTERM, waits up
// to grace, then kills it with SIGKILL and waits until it is reaped. It is
// safe to call more than once and after the process has exited.
func (p *Proc) Stop(grace time.Duration) {
	p.stop.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		signalProc(p.cmd.Process, syscall.SIGTERM)
		select {
		case <-p.done:
			return
		case <-time.After(grace):
		}
		signalProc(p.cmd.Process, syscall.SIGKILL)
		<-p.done
	})
}

// LogTail returns the last n lines of the process's log.
func (p *Proc) LogTail(n int) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.TrimSpace([]byte(strings.Join(lines, "\n"))))
}

// Group owns a set of processes and stops them in reverse start order.
type Group struct {
	LogDir string
	Grace  time.Duration // default 5s

	mu    sync.Mutex
	procs []*Proc
}

// Start starts a process that the group owns.
func (g *Group) Start(name string, argv ...string) (*Proc, error) {
	p, err := StartProc(name, g.LogDir, argv...)
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.procs = append(g.procs, p)
	g.mu.Unlock()
	return p, nil
}

// Pids returns the process ids of the group's processes.
func (g *Group) Pids() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	pids := make([]int, len(g.procs))
	for i, p := range g.procs {
		pids[i] = p.Pid()
	}
	return pids
}

// StopAll stops every process of the group, newest first, and forgets them.
func (g *Group) StopAll() {
	g.mu.Lock()
	procs := g.procs
	g.procs = nil
	g.mu.Unlock()
	grace := g.Grace
	if grace <= 0 {
		grace = 5 * time.Second
	}
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop(grace)
	}
}

// ErrExited reports that a process ended while it was expected to run.
var ErrExited = errors.New("process exited")

// exitedError wraps ErrExited with the process's name, status and log tail.
func exitedError(p *Proc) error {
	return fmt.Errorf("%s: %w (%v); last log lines:\n%s", p.Name, ErrExited, p.ExitErr(), p.LogTail(20))
}
