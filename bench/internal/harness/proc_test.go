package harness

import (
	"context"
	"errors"
	"os/exec"
	"testing"
	"time"
)

func TestGroupStopsAndReaps(t *testing.T) {
	if _, err := exec.LookPath("sleep"); err != nil {
		t.Skip("no sleep binary")
	}
	g := &Group{LogDir: t.TempDir(), Grace: time.Second}
	a, err := g.Start("a", "sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	// A child that ignores SIGTERM must be killed after the grace period.
	b, err := g.Start("b", "sh", "-c", "trap '' TERM; sleep 60 & wait")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	g.StopAll()
	for _, p := range []*Proc{a, b} {
		select {
		case <-p.Done():
		default:
			t.Errorf("%s not reaped", p.Name)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("StopAll took %v", d)
	}
	g.StopAll() // idempotent
	a.Stop(time.Second)
}

func TestWaitReadyReportsExit(t *testing.T) {
	g := &Group{LogDir: t.TempDir()}
	defer g.StopAll()
	p, err := g.Start("quitter", "sh", "-c", "echo cannot bind; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	err = WaitReady(context.Background(), "http://"+addr+"/healthz", 10*time.Second, p)
	if !errors.Is(err, ErrExited) {
		t.Fatalf("WaitReady = %v, want ErrExited", err)
	}
	t.Log(err)
}
