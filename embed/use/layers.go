package use

import (
	"math"

	"github.com/semgate/semgate/embed/use/internal/wfile"
)

// panel is the column width of a packed matrix: the matrix-multiply kernel
// computes blocks of rowBlock rows × panel columns.
const (
	panel    = 16
	rowBlock = 4
)

// matrix is a k×m weight matrix (y = x·W, x a row of k values) stored as
// float16 in m/panel panels, each k rows of panel contiguous values, so
// that the kernels stream it in order at half the memory traffic of
// float32. The weight file's matrices are float16 already, so this loses
// nothing; the kernels widen each value to float32 exactly.
type matrix struct {
	k, m int
	p    []uint16 // [m/panel][k][panel]
}

func packMatrix(w []float32, k, m int) *matrix {
	if m%panel != 0 {
		panic("use: matrix width not a multiple of the panel width")
	}
	mat := &matrix{k: k, m: m, p: make([]uint16, k*m)}
	for j0 := 0; j0 < m; j0 += panel {
		dst := mat.p[j0*k : (j0+panel)*k]
		for kk := range k {
			for j := range panel {
				dst[kk*panel+j] = wfile.F32ToF16(w[kk*m+j0+j])
			}
		}
	}
	return mat
}

// f16 widens float16 bits to float32 (the portable kernel's table).
var f16 = func() *[1 << 16]float32 {
	var t [1 << 16]float32
	for i := range t {
		t[i] = wfile.F16ToF32(uint16(i))
	}
	return &t
}()

// matMul sets c = a·w + bias for n rows (n a multiple of rowBlock): a is
// n×w.k with row stride lda, c is n×w.m with row stride ldc. pack is
// scratch for the AVX-512 kernels' packed rows. Each output element is the
// same, bit for bit, whichever kernel computes its row.
func matMul(c []float32, ldc int, a []float32, lda int, n int, w *matrix, bias []float32, pack *[]float32) {
	k := w.k
	if use512 {
		// Blocks of 16 rows, the last one 4, 8 or 12 rows, packed k-major.
		ap := grow(*pack, n*k)
		*pack = ap
		packRows(ap, a, lda, n, k)
		for j0 := 0; j0 < w.m; j0 += panel {
			p := w.p[j0*k : (j0+panel)*k]
			b := bias[j0 : j0+panel]
			for i := 0; i < n; i += 16 {
				kernelRows16(min(16, n-i), k, ap[i*k:], p, c[i*ldc+j0:], ldc, b)
			}
		}
		return
	}
	for j0 := 0; j0 < w.m; j0 += panel {
		p := w.p[j0*k : (j0+panel)*k]
		b := bias[j0 : j0+panel]
		for i := 0; i < n; i += rowBlock {
			kernel4x16(k, a[i*lda:], lda, p, c[i*ldc+j0:], ldc, b)
		}
	}
}

// packRows copies n rows of a into dst in blocks of 16 rows (the last
// block n mod 16 rows), k-major: a block of r rows starting at row b is
// dst[b*k + kk*r + i] = a[b+i][kk].
func packRows(dst, a []float32, lda, n, k int) {
	for b := 0; b < n; b += 16 {
		r := min(16, n-b)
		blk := dst[b*k : (b+r)*k]
		for i := range r {
			row := a[(b+i)*lda : (b+i)*lda+k]
			for kk, v := range row {
				blk[kk*r+i] = v
			}
		}
	}
}

// kernel4x16Go is the portable kernel: c[r][0:16] = bias + Σ_k a[r][k]·p[k][0:16]
// for r = 0..3. Every output sums its products in k order, whatever the
// other rows, so a text's vector does not depend on its batch.
func kernel4x16Go(k int, a []float32, lda int, p []uint16, c []float32, ldc int, bias []float32) {
	var acc [rowBlock][panel]float32
	a0, a1, a2, a3 := a[:k], a[lda:lda+k], a[2*lda:2*lda+k], a[3*lda:3*lda+k]
	p = p[:k*panel]
	for kk := range k {
		wh := p[kk*panel : kk*panel+panel : kk*panel+panel]
		x0, x1, x2, x3 := a0[kk], a1[kk], a2[kk], a3[kk]
		for j, h := range wh {
			w := f16[h]
			acc[0][j] += x0 * w
			acc[1][j] += x1 * w
			acc[2][j] += x2 * w
			acc[3][j] += x3 * w
		}
	}
	for r := range rowBlock {
		row := c[r*ldc : r*ldc+panel]
		for j := range panel {
			row[j] = acc[r][j] + bias[j]
		}
	}
}

// layerNorm normalizes each of n rows of x (width d) into y:
// y = scale·(x−mean)/sqrt(var+eps) + bias, as the graph computes it.
func layerNorm(y, x []float32, n, d int, scale, bias []float32) {
	inv := 1 / float32(d)
	for i := range n {
		xr := x[i*d : (i+1)*d]
		yr := y[i*d : (i+1)*d]
		var s float32
		for _, v := range xr {
			s += v
		}
		mean := s * inv
		var ss float32
		for _, v := range xr {
			dv := v - mean
			ss += dv * dv
		}
		r := float32(1 / math.Sqrt(float64(ss*inv+lnEpsilon)))
		for j, v := range xr {
			yr[j] = scale[j]*r*(v-mean) + bias[j]
		}
	}
}

// attention computes multi-head self-attention for one text's t rows.
// qkv rows hold [q | k | v], each d wide and split into heads of d/heads
// columns; ctx (t×d) receives the heads' outputs side by side. logits is
// scratch of at least t values.
func attention(ctx []float32, qkv []float32, t, d, heads int, scale float32, logits []float32) {
	dh := d / heads
	ld := 3 * d
	logits = logits[:t]
	// The graph scales the queries before the dot products.
	for i := range t {
		q := qkv[i*ld : i*ld+d]
		for x := range q {
			q[x] *= scale
		}
	}
	for h := range heads {
		qo, ko, vo := h*dh, d+h*dh, 2*d+h*dh
		for i := range t {
			q := qkv[i*ld+qo : i*ld+qo+dh]
			m := float32(math.Inf(-1))
			for j := range t {
				kr := qkv[j*ld+ko : j*ld+ko+dh]
				s := dot(q, kr)
				logits[j] = s
				m = max(m, s)
			}
			var sum float32
			for j, l := range logits {
				e := float32(math.Exp(float64(l - m)))
				logits[j] = e
				sum += e
			}
			out := ctx[i*d+h*dh : i*d+h*dh+dh]
			clear(out)
			inv := 1 / sum
			for j, e := range logits {
				wgt := e * inv
				axpy(out, qkv[j*ld+vo:j*ld+vo+dh], wgt)
			}
		}
	}
}

func dotGo(a, b []float32) float32 {
	b = b[:len(a)]
	var s float32
	for i, x := range a {
		s += x * b[i]
	}
	return s
}

func axpyGo(y, x []float32, alpha float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += alpha * x[i]
	}
}
