//go:build amd64 && !purego

package use

import (
	"context"
	"math"
	"testing"
)

// TestKernelsAgree: the AVX-512 and AVX2 float32 kernels give the same
// bits; the portable Go kernel (no FMA) agrees to rounding, and the
// bfloat16 kernels to their precision.
func TestKernelsAgree(t *testing.T) {
	if !useFMA {
		t.Skip("no AVX2+FMA on this CPU")
	}
	w32, err := float32Weights()
	if err != nil {
		t.Fatal(err)
	}
	e := withWeights(w32, Options{Workers: 1})
	texts := append([]string{"", "a", "x y z"}, prompts30...)
	long := ""
	for range 40 {
		long += "forty seven words "
	}
	texts = append(texts, long)
	run := func(fma, avx512 bool) [][]float32 {
		oldFMA, old512 := useFMA, use512
		useFMA, use512 = fma, avx512
		defer func() { useFMA, use512 = oldFMA, old512 }()
		v, err := e.Embed(context.Background(), texts)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	avx2 := run(true, false)
	portable := run(false, false)
	if hasAVX512() {
		avx512 := run(true, true)
		for i := range texts {
			for j := range avx512[i] {
				if math.Float32bits(avx512[i][j]) != math.Float32bits(avx2[i][j]) {
					t.Fatalf("text %d: AVX-512 and AVX2 kernels differ at %d", i, j)
				}
			}
		}
	}
	cos := func(a, b []float32) float64 {
		var d float64
		for j := range a {
			d += float64(a[j]) * float64(b[j])
		}
		return d
	}
	for i := range texts {
		if c := cos(avx2[i], portable[i]); c < 0.99999 {
			t.Errorf("text %d: FMA and portable kernels: cosine %v", i, c)
		}
	}
	if !useBF16 {
		return
	}
	ebf, err := New(Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	bf, err := ebf.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	worst := 1.0
	for i := range texts {
		c := cos(avx2[i], bf[i])
		worst = min(worst, c)
		if c < 0.9995 {
			t.Errorf("text %d: bfloat16 and float32 kernels: cosine %v", i, c)
		}
	}
	t.Logf("bfloat16 vs float32 kernels: cosine ≥ %.6f", worst)
}
