package harness

import (
	"os"
	"runtime"
	"strconv"
	"strings"
)

// HeapInUse is the Go heap in use after a full collection, in bytes.
func HeapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// ProcStatus reads a "kB" field of /proc/self/status ("VmRSS", "VmHWM") in
// bytes; 0 when unknown (not Linux, no such field).
func ProcStatus(field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			if f := strings.Fields(v); len(f) > 0 {
				n, _ := strconv.ParseUint(f[0], 10, 64)
				return n << 10
			}
		}
	}
	return 0
}
