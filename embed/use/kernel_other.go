//go:build !amd64 || purego

package use

const (
	kernelName = "go"
	use512     = false
	useBF16    = false
)

func packTilesBF16(dst *uint32, a *float32, lda int, r int, kp int) {
	panic("use: no bfloat16 kernel")
}

func kernelRowsBF16(r, kp int, a []uint32, p []uint32, c []float32, ldc int, bias []float32) {
	panic("use: no bfloat16 kernel")
}

func kernelRows16(r, k int, a []float32, p []uint16, c []float32, ldc int, bias []float32) {
	panic("use: no AVX-512 kernel")
}

func kernel4x16(k int, a []float32, lda int, p []uint16, c []float32, ldc int, bias []float32) {
	kernel4x16Go(k, a, lda, p, c, ldc, bias)
}

func dots(out, q, k []float32, ld int) { dotsGo(out, q, k, ld) }

func wsum(out, v []float32, ld int, w []float32) { wsumGo(out, v, ld, w) }
