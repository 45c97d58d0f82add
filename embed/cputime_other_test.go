//go:build !linux

package embed

import "time"

func threadCPUTime() (time.Duration, bool) { return 0, false }
