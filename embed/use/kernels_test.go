package use

import (
	"math"
	"sync"
	"testing"
)

// kernelKind is an Embedder whose weights are packed for one kind of
// kernel.
type kernelKind struct {
	name string
	e    *Embedder
}

// float32Weights are the weights packed for the float32 kernels.
var float32Weights = sync.OnceValues(func() (*weights, error) { return decode(weightFile, false) })

// kernelKinds returns the default Embedder and, where the default uses
// the bfloat16 kernels, one on the float32 kernels too.
func kernelKinds(t testing.TB) []kernelKind {
	t.Helper()
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	kinds := []kernelKind{{Kernel(), e}}
	if useBF16 {
		w, err := float32Weights()
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, kernelKind{"float32", withWeights(w, Options{})})
	}
	return kinds
}

// withWeights is New with the given weights.
func withWeights(w *weights, o Options) *Embedder {
	e, err := New(o)
	if err != nil {
		panic(err)
	}
	e.w = w
	return e
}

// TestExpNeg: expNeg agrees with math.Exp to float32 rounding over the
// range attention uses (x ≤ 0).
func TestExpNeg(t *testing.T) {
	worst := 0.0
	for i := 0; i <= 1_000_000; i++ {
		x := -float32(i) * 1e-4 // 0 … -100
		got, want := float64(expNeg(x)), math.Exp(float64(x))
		if want < 1e-37 {
			if got > 1e-37 {
				t.Fatalf("expNeg(%v) = %v, want ~0", x, got)
			}
			continue
		}
		worst = max(worst, math.Abs(got-want)/want)
	}
	if worst > 5e-7 {
		t.Errorf("expNeg: relative error %.3g", worst)
	}
	t.Logf("expNeg: worst relative error %.3g", worst)
}
