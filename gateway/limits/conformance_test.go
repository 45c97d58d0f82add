package limits_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/semgate/semgate/gateway/limits"
	"github.com/semgate/semgate/gateway/limits/limitstest"
)

// TestLocalConformance runs the conformance tests every Limiter and
// Budgets passes alike (package limitstest) on the local ones.
func TestLocalConformance(t *testing.T) {
	newLimiter := func(t *testing.T) limits.Limiter {
		l := limits.NewLocalLimiter(limits.LocalOptions{NoEvictor: true, Idle: time.Minute})
		t.Cleanup(func() { l.Close() })
		return l
	}
	limitstest.Limiter(t, newLimiter)
	t.Run("Batch", func(t *testing.T) { limitstest.Batch(t, newLimiter) })
	limitstest.Budgets(t, func(t *testing.T) limits.Budgets {
		b, err := limits.OpenBudgets(nil, limits.BudgetOptions{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, limitstest.T0)
		if err != nil {
			t.Fatal(err)
		}
		return b
	})
}
