package harness

import (
	"bufio"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// Machine describes where a benchmark ran.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model,omitempty"`
	OS        string `json:"os"`
	Arch      string `json:"arch"`
	Kernel    string `json:"kernel,omitempty"`
	GoVersion string `json:"go_version"`
	Wrk       string `json:"wrk,omitempty"`
	GitCommit string `json:"git_commit,omitempty"`
	GitDirty  bool   `json:"git_dirty,omitempty"`
}

// DescribeMachine gathers what can be had cheaply; missing pieces stay
// empty. repoDir is the source tree whose commit is recorded ("" to skip);
// wrk is the wrk binary ("" to skip).
func DescribeMachine(repoDir, wrk string) Machine {
	m := Machine{
		CPUs:      runtime.NumCPU(),
		CPUModel:  cpuModel(),
		OS:        runtime.GOOS,
		Arch:      runtime.GOARCH,
		GoVersion: runtime.Version(),
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if wrk != "" {
		m.Wrk = WrkVersion(wrk)
	}
	if repoDir != "" {
		if out, err := gitOutput(repoDir, "rev-parse", "HEAD"); err == nil {
			m.GitCommit = strings.TrimSpace(out)
		}
		if out, err := gitOutput(repoDir, "--no-optional-locks", "status", "--porcelain", "--untracked-files=no"); err == nil {
			m.GitDirty = strings.TrimSpace(out) != ""
		}
	}
	return m
}

// cpuModel reads the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// gitOutput runs a read-only git command in dir.
func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	return string(out), err
}

// LoadAvg returns the 1-minute load average from /proc/loadavg, or -1 when
// it cannot be read. Above the CPU count, other work competed with the
// benchmark.
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}
