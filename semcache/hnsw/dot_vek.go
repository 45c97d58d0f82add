//go:build !purego

package hnsw

import "github.com/viterin/vek/vek32"

// dot returns the dot product of two equal-length vectors: the cosine
// similarity of unit vectors. vek32 uses AVX2 and FMA where the CPU has
// them and a Go loop elsewhere. Build with -tags purego for the
// hand-unrolled loop of dot_go.go instead.
func dot(a, b []float32) float32 { return vek32.Dot(a, b[:len(a)]) }
