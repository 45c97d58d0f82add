//go:build amd64 && !purego

package use

// useFMA: the CPU and OS support AVX2 and FMA, so the assembly kernels
// run. use512: AVX-512F too, for the 16-row kernel. useBF16: AVX512_BF16
// too, for the bfloat16 kernels (VDPBF16PS: twice the multiply-adds per
// instruction of float32 FMA). It is read when the weights are decoded,
// which pack the matrices for one kind of kernel or the other.
var (
	useFMA  = hasAVX2FMA()
	use512  = useFMA && hasAVX512()
	useBF16 = use512 && hasAVX512BF16()
)

var kernelName = func() string {
	switch {
	case useBF16:
		return "avx512-bf16"
	case use512:
		return "avx512-fma"
	case useFMA:
		return "avx2-fma"
	}
	return "go"
}()

// kernelRowsBF16 is the bfloat16 kernel for r = 4, 8, 12 or 16 rows packed
// by packRowsBF16, against kp pairs of rows of a bfloat16 panel.
func kernelRowsBF16(r, kp int, a []uint32, p []uint32, c []float32, ldc int, bias []float32) {
	_ = a[r*kp-1]
	_ = p[kp*panel-1]
	_ = c[(r-1)*ldc+panel-1]
	_ = bias[panel-1]
	if kp <= 0 {
		panic("use: empty kernel")
	}
	switch r {
	case 16:
		kernel16x16BF16(kp, &a[0], &p[0], &c[0], ldc, &bias[0])
	case 12:
		kernel12x16BF16(kp, &a[0], &p[0], &c[0], ldc, &bias[0])
	case 8:
		kernel8x16BF16(kp, &a[0], &p[0], &c[0], ldc, &bias[0])
	case 4:
		kernel4x16BF16(kp, &a[0], &p[0], &c[0], ldc, &bias[0])
	default:
		panic("use: bad row count")
	}
}

//go:generate go run ./internal/genbf16 -out kernel_bf16_amd64.s

//go:noescape
func packTilesBF16(dst *uint32, a *float32, lda int, r int, kp int)

//go:noescape
func kernel16x16BF16(kp int, a *uint32, p *uint32, c *float32, ldc int, bias *float32)

//go:noescape
func kernel12x16BF16(kp int, a *uint32, p *uint32, c *float32, ldc int, bias *float32)

//go:noescape
func kernel8x16BF16(kp int, a *uint32, p *uint32, c *float32, ldc int, bias *float32)

//go:noescape
func kernel4x16BF16(kp int, a *uint32, p *uint32, c *float32, ldc int, bias *float32)

func hasAVX512BF16() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	eax71, _, _, _ := cpuid(7, 1)
	return eax71&(1<<5) != 0 // AVX512_BF16
}

// kernelRows16 is the AVX-512 kernel for r = 4, 8, 12 or 16 rows packed
// k-major in a (see packRows); it gives the same bits as kernel4x16 on
// the same rows.
func kernelRows16(r, k int, a []float32, p []uint16, c []float32, ldc int, bias []float32) {
	_ = a[r*k-1]
	_ = p[k*panel-1]
	_ = c[(r-1)*ldc+panel-1]
	_ = bias[panel-1]
	if k <= 0 {
		panic("use: empty kernel")
	}
	switch r {
	case 16:
		kernel16x16AVX512(k, &a[0], &p[0], &c[0], ldc, &bias[0])
	case 12:
		kernel12x16AVX512(k, &a[0], &p[0], &c[0], ldc, &bias[0])
	case 8:
		kernel8x16AVX512(k, &a[0], &p[0], &c[0], ldc, &bias[0])
	case 4:
		kernel4x16AVX512(k, &a[0], &p[0], &c[0], ldc, &bias[0])
	default:
		panic("use: bad row count")
	}
}

//go:noescape
func kernel16x16AVX512(k int, a *float32, p *uint16, c *float32, ldc int, bias *float32)

//go:noescape
func kernel12x16AVX512(k int, a *float32, p *uint16, c *float32, ldc int, bias *float32)

//go:noescape
func kernel8x16AVX512(k int, a *float32, p *uint16, c *float32, ldc int, bias *float32)

//go:noescape
func kernel4x16AVX512(k int, a *float32, p *uint16, c *float32, ldc int, bias *float32)

func hasAVX512() bool {
	if xcr0, _ := xgetbv(); xcr0&0xe6 != 0xe6 { // opmask and ZMM state too
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<16) != 0 // AVX512F
}

// kernel4x16 computes c[r][0:16] = bias + Σ_k a[r][k]·p[k][0:16] for rows
// r = 0..3 (see kernel4x16Go), with AVX2 FMA when the CPU has it.
func kernel4x16(k int, a []float32, lda int, p []uint16, c []float32, ldc int, bias []float32) {
	if !useFMA {
		kernel4x16Go(k, a, lda, p, c, ldc, bias)
		return
	}
	// Bounds, checked once here instead of in the assembly.
	_ = a[3*lda+k-1]
	_ = p[k*panel-1]
	_ = c[3*ldc+panel-1]
	_ = bias[panel-1]
	if k <= 0 {
		panic("use: empty kernel")
	}
	kernel4x16FMA(k, &a[0], lda, &p[0], &c[0], ldc, &bias[0])
}

//go:noescape
func kernel4x16FMA(k int, a *float32, lda int, p *uint16, c *float32, ldc int, bias *float32)

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)

func hasAVX2FMA() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const (
		fma     = 1 << 12
		osxsave = 1 << 27
		avx     = 1 << 28
	)
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // the OS saves XMM and YMM state
		return false
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0 // AVX2
}

//go:noescape
func dotsFMA(q *float32, k *float32, ld int, n int, t int, out *float32)

//go:noescape
func wsumFMA(out *float32, v *float32, ld int, n int, t int, w *float32)

// dots sets out[j] = q·k[j*ld : j*ld+len(q)] for j < len(out) (len(q) a
// multiple of 16).
func dots(out, q, k []float32, ld int) {
	t, n := len(out), len(q)
	if !useFMA || t == 0 || n == 0 {
		dotsGo(out, q, k, ld)
		return
	}
	_ = k[(t-1)*ld+n-1]
	dotsFMA(&q[0], &k[0], ld, n, t, &out[0])
}

// wsum sets out = Σ w[j]·v[j*ld : j*ld+len(out)] over j < len(w)
// (len(out) a multiple of 32), accumulating in j order.
func wsum(out, v []float32, ld int, w []float32) {
	t, n := len(w), len(out)
	if !useFMA || t == 0 || n == 0 {
		wsumGo(out, v, ld, w)
		return
	}
	_ = v[(t-1)*ld+n-1]
	wsumFMA(&out[0], &v[0], ld, n, t, &w[0])
}
