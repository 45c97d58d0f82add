package harness

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestCPUMeter(t *testing.T) {
	m, err := StartCPUMeter()
	if errors.Is(err, ErrNoCPUStats) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU in this process: it is ours, so it must not count as other.
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); {
	}
	share, err := m.Stop(0)
	if err != nil {
		t.Fatal(err)
	}
	if share < 0 || share > 1 {
		t.Errorf("share %v out of range", share)
	}
	if _, err := processCPU(os.Getpid()); err != nil {
		t.Error(err)
	}
	t.Logf("other CPU share while burning: %.2f", share)
}
