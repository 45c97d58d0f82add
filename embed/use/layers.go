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
	p    []uint16 // [m/panel][k][panel] float16; nil when bp is used
	bp   []uint32 // [m/panel][k/2][panel] bfloat16 pairs (rows 2i, 2i+1); nil for the float32 kernels
}

func packMatrix(w []float32, k, m int, bf16 bool) *matrix {
	if m%panel != 0 {
		panic("use: matrix width not a multiple of the panel width")
	}
	if bf16 {
		return packMatrixBF16(w, k, m)
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

// packMatrixBF16 packs w for the bfloat16 kernels: per panel of 16
// columns, per pair of rows (2i, 2i+1), 16 words each holding column j's
// two values, row 2i in the low half (as VDPBF16PS pairs them).
func packMatrixBF16(w []float32, k, m int) *matrix {
	if k%(2*bfTile) != 0 {
		panic("use: matrix depth not a multiple of 16")
	}
	mat := &matrix{k: k, m: m, bp: make([]uint32, k/2*m)}
	for j0 := 0; j0 < m; j0 += panel {
		dst := mat.bp[j0*k/2 : (j0+panel)*k/2]
		for kp := range k / 2 {
			for j := range panel {
				lo := toBF16(w[2*kp*m+j0+j])
				hi := toBF16(w[(2*kp+1)*m+j0+j])
				dst[kp*panel+j] = uint32(lo) | uint32(hi)<<16
			}
		}
	}
	return mat
}

// toBF16 rounds a finite float32 to bfloat16, to nearest even.
func toBF16(f float32) uint16 {
	b := math.Float32bits(f)
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
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
// scratch for the AVX-512 and bfloat16 kernels' packed rows. With one
// kind of weights (float16 or bfloat16), each output element is the same,
// bit for bit, whichever row block or kernel computes its row.
func matMul(c []float32, ldc int, a []float32, lda int, n int, w *matrix, bias []float32, pack *packBuf) {
	k := w.k
	if w.bp != nil {
		// Blocks of 16 rows, the last one 4, 8 or 12 rows, rounded to
		// bfloat16 and packed k-pair major.
		ap := grow(pack.b, n*k/2)
		pack.b = ap
		packRowsBF16(ap, a, lda, n, k)
		kp := k / 2
		for j0 := 0; j0 < w.m; j0 += panel {
			p := w.bp[j0*kp : (j0+panel)*kp]
			b := bias[j0 : j0+panel]
			for i := 0; i < n; i += 16 {
				kernelRowsBF16(min(16, n-i), kp, ap[i*kp:], p, c[i*ldc+j0:], ldc, b)
			}
		}
		return
	}
	if use512 {
		// Blocks of 16 rows, the last one 4, 8 or 12 rows, packed k-major.
		ap := grow(pack.f, n*k)
		pack.f = ap
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

// packBuf is matMul's scratch for packed rows.
type packBuf struct {
	f []float32 // the AVX-512 float32 kernels'
	b []uint32  // the bfloat16 kernels'
}

// bfTile is the number of bfloat16 pairs of one row stored together by
// packRowsBF16; the generated kernels address the tiles with it, so it
// must equal internal/genbf16's tile.
const bfTile = 8

// packRowsBF16 rounds n rows of a to bfloat16 and packs them into dst in
// blocks of 16 rows (the last block n mod 16 rows) for the bfloat16
// kernels. Within a block of r rows starting at row b, pairs are stored
// in tiles of bfTile: row i's pair p, the values (a[b+i][2p],
// a[b+i][2p+1]) with the first in the low half, is at
// dst[b*k/2 + (p/bfTile)*r*bfTile + i*bfTile + p%bfTile].
func packRowsBF16(dst []uint32, a []float32, lda, n, k int) {
	kp := k / 2
	for b := 0; b < n; b += 16 {
		r := min(16, n-b)
		_ = dst[(b+r)*kp-1]
		_ = a[(b+r-1)*lda+k-1]
		packTilesBF16(&dst[b*kp], &a[b*lda], lda, r, kp)
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

// layerNorm normalizes each of n rows of x (width d, a multiple of 8)
// into y: y = scale·(x−mean)/sqrt(var+eps) + bias, as the graph computes
// it. The sums run in eight interleaved partial sums.
func layerNorm(y, x []float32, n, d int, scale, bias []float32) {
	inv := 1 / float32(d)
	scale, bias = scale[:d], bias[:d]
	for i := range n {
		xr := x[i*d : (i+1)*d]
		yr := y[i*d : (i+1)*d]
		mean := sum8(xr) * inv
		var s [8]float32
		for j := 0; j+8 <= len(xr); j += 8 {
			v := xr[j : j+8 : j+8]
			for u := range s {
				dv := v[u] - mean
				s[u] += dv * dv
			}
		}
		ss := ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
		r := float32(1 / math.Sqrt(float64(ss*inv+lnEpsilon)))
		for j, v := range xr {
			yr[j] = scale[j]*r*(v-mean) + bias[j]
		}
	}
}

// sum8 returns Σ v (len(v) a multiple of 8) in eight interleaved partial
// sums.
func sum8(v []float32) float32 {
	var s [8]float32
	for j := 0; j+8 <= len(v); j += 8 {
		w := v[j : j+8 : j+8]
		for u := range s {
			s[u] += w[u]
		}
	}
	return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))
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
			dots(logits, q, qkv[ko:], ld)
			m := float32(math.Inf(-1))
			for _, l := range logits {
				m = max(m, l)
			}
			var sum float32
			for j, l := range logits {
				e := expNeg(l - m)
				logits[j] = e
				sum += e
			}
			inv := 1 / sum
			for j := range logits {
				logits[j] *= inv
			}
			wsum(ctx[i*d+h*dh:i*d+h*dh+dh], qkv[vo:], ld, logits)
		}
	}
}

// dotsGo is the portable dots.
func dotsGo(out, q, k []float32, ld int) {
	for j := range out {
		out[j] = dotGo(q, k[j*ld:j*ld+len(q)])
	}
}

// wsumGo is the portable wsum.
func wsumGo(out, v []float32, ld int, w []float32) {
	clear(out)
	for j, wj := range w {
		axpyGo(out, v[j*ld:j*ld+len(out)], wj)
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

// expNeg returns e^x for x ≤ 0 in float32 (relative error about 1e-7,
// Cephes' expf polynomial); math.Exp in float64 cost a tenth of a pass.
// Below -87 it returns 0, where e^x is under float32's normal range.
func expNeg(x float32) float32 {
	if x < -87 {
		return 0
	}
	const (
		log2e = 1.44269504088896341
		ln2hi = 0.693359375
		ln2lo = -2.12194440e-4
	)
	n := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - n*ln2hi - n*ln2lo
	z := r * r
	y := ((((1.9875691500e-4*r+1.3981999507e-3)*r+8.3334519073e-3)*r+4.1665795894e-2)*r+1.6666665459e-1)*r + 5.0000001201e-1
	y = y*z + r + 1
	return y * math.Float32frombits(uint32(int32(n)+127)<<23)
}
