package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc CPU times (USER_HZ), 100 on every Linux
// architecture Go supports.
const clockTick = 10 * time.Millisecond

// CPUMeter measures how much CPU other work on the machine used while a
// benchmark ran: the machine's busy time minus that of the benchmark's own
// processes. On a shared machine this tells a clean run from a disturbed
// one. It reads /proc and so works on Linux only.
type CPUMeter struct {
	pids  []int
	start cpuSample
}

type cpuSample struct {
	at   time.Time
	busy time.Duration // whole machine
	own  time.Duration // the watched processes and this one
}

// ErrNoCPUStats reports that /proc is not available.
var ErrNoCPUStats = errors.New("CPU statistics need Linux's /proc")

// StartCPUMeter starts measuring; pids are the benchmark's long-running
// children (servers). Processes that run only during the measurement (such
// as wrk) are added to Stop's ownCPU instead.
func StartCPUMeter(pids ...int) (*CPUMeter, error) {
	m := &CPUMeter{pids: pids}
	s, err := m.sample()
	if err != nil {
		return nil, err
	}
	m.start = s
	return m, nil
}

// Stop returns the share (0 to 1) of the machine's CPU capacity used by
// processes other than the watched ones, this process and ownCPU, or stolen
// by the hypervisor, over the time since StartCPUMeter.
func (m *CPUMeter) Stop(ownCPU time.Duration) (float64, error) {
	end, err := m.sample()
	if err != nil {
		return 0, err
	}
	wall := end.at.Sub(m.start.at)
	if wall <= 0 {
		return 0, nil
	}
	other := (end.busy - m.start.busy) - (end.own - m.start.own) - ownCPU
	share := float64(other) / (float64(wall) * float64(runtime.NumCPU()))
	return min(max(share, 0), 1), nil
}

func (m *CPUMeter) sample() (cpuSample, error) {
	s := cpuSample{at: time.Now()}
	busy, err := machineBusy()
	if err != nil {
		return s, err
	}
	s.busy = busy
	for _, pid := range append([]int{os.Getpid()}, m.pids...) {
		t, err := processCPU(pid)
		if err != nil {
			continue // exited; its time is lost either way
		}
		s.own += t
	}
	return s, nil
}

// machineBusy reads the machine's total non-idle CPU time from /proc/stat.
func machineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNoCPUStats, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, fmt.Errorf("%w: unexpected /proc/stat line %q", ErrNoCPUStats, line)
	}
	var busy uint64
	for i, v := range f[1:] {
		// Fields: user nice system idle iowait irq softirq steal guest
		// guest_nice. Idle and iowait are not busy; interrupt time is
		// mostly the benchmark's own loopback traffic, which no process is
		// charged for, so it is left out too; steal (the hypervisor giving
		// the CPU to someone else) counts as other work; guest time is
		// already counted in user and nice.
		if i == 3 || i == 4 || i == 5 || i == 6 || i >= 8 {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: /proc/stat field %q: %w", ErrNoCPUStats, v, err)
		}
		busy += n
	}
	return time.Duration(busy) * clockTick, nil
}

// processCPU reads a process's user and system CPU time from
// /proc/PID/stat.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNoCPUStats, err)
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("%w: unexpected /proc/%d/stat", ErrNoCPUStats, pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// After the name: state(3) ... utime(14) stime(15), so indexes 11, 12.
	if len(f) < 13 {
		return 0, fmt.Errorf("%w: short /proc/%d/stat", ErrNoCPUStats, pid)
	}
	var total uint64
	for _, v := range f[11:13] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: /proc/%d/stat: %w", ErrNoCPUStats, pid, err)
		}
		total += n
	}
	return time.Duration(total) * clockTick, nil
}

// WaitQuiet waits until, over a window, other work uses at most maxShare
// (0 to 1) of the machine's CPU, measured as by CPUMeter with pids as the
// benchmark's own processes. It gives up after limit and returns the last
// window's share either way; it returns early with ctx's error.
func WaitQuiet(ctx context.Context, maxShare float64, window, limit time.Duration, pids ...int) (float64, error) {
	deadline := time.Now().Add(limit)
	for {
		m, err := StartCPUMeter(pids...)
		if err != nil {
			return 0, err
		}
		t := time.NewTimer(window)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
		share, err := m.Stop(0)
		if err != nil {
			return 0, err
		}
		if share <= maxShare || !time.Now().Before(deadline) {
			return share, nil
		}
	}
}
