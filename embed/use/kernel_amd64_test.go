//go:build amd64 && !purego

package use

import (
	"context"
	"math"
	"testing"
)

// TestKernelsAgree: the AVX-512 and AVX2 kernels give the same bits; the
// portable Go kernel (no FMA) agrees to rounding.
func TestKernelsAgree(t *testing.T) {
	if !useFMA {
		t.Skip("no AVX2+FMA on this CPU")
	}
	e, err := New(Options{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
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
	for i := range texts {
		var d float64
		for j := range avx2[i] {
			d += float64(avx2[i][j]) * float64(portable[i][j])
		}
		if d < 0.99999 {
			t.Errorf("text %d: FMA and portable kernels: cosine %v", i, d)
		}
	}
}
