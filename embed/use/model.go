package use

import "math"

// scratch is the working memory of one forward pass, reused across calls
// (pooled by the Embedder). Its slices grow to the largest batch seen.
type scratch struct {
	tok    tokState
	ids    []int32
	starts []int
	x0     []float32 // n×embDim: layer 0's input
	x1     []float32 // n×modelDim: layer 1's input
	h      []float32 // n×modelDim: layer-norm output
	qkv    []float32 // n×3·modelDim
	ctx    []float32 // n×modelDim
	y      []float32 // n×modelDim
	tmp    []float32 // n×modelDim
	f      []float32 // n×ffnDim
	logits []float32
	pack   packBuf   // matMul's packed rows
	pooled []float32 // texts×ffnDim
	py     []float32 // texts×modelDim
	enc    []float32 // texts×modelDim
	vec    []float32 // texts×modelDim: the result
}

// roundUp rounds n up to a multiple of rowBlock.
func roundUp(n int) int { return (n + rowBlock - 1) / rowBlock * rowBlock }

// forward embeds a batch of tokenized texts (ids concatenated, starts[i]
// the offset of text i, starts[len(starts)-1] the total; each text at most
// maxTokens ids) and returns their unit vectors, texts×modelDim, in
// s.vec. Every text's numbers are computed independently of the others,
// bit for bit, so batching never changes a vector.
func (w *weights) forward(s *scratch, ids []int32, starts []int) []float32 {
	n := len(ids)
	np := roundUp(max(n, 1))
	s.x0 = grow(s.x0, np*embDim)
	s.x1 = grow(s.x1, np*modelDim)
	s.h = grow(s.h, np*modelDim)
	s.qkv = grow(s.qkv, np*3*modelDim)
	s.ctx = grow(s.ctx, np*modelDim)
	s.y = grow(s.y, np*modelDim)
	s.tmp = grow(s.tmp, np*modelDim)
	s.f = grow(s.f, np*ffnDim)
	s.logits = grow(s.logits, maxTokens)
	texts := len(starts) - 1

	// Layer 0's input. The graph adds each token's embedding twice: once
	// in the timing signal's sum and once through the stack's residual.
	// Padding rows (n..np) only fill the kernel's row blocks: zeros.
	clear(s.x0[n*embDim : np*embDim])
	for t := range texts {
		for i := starts[t]; i < starts[t+1]; i++ {
			e := w.emb[int(ids[i])*embDim : int(ids[i]+1)*embDim]
			p := i - starts[t]
			tm := w.timing[p*embDim : (p+1)*embDim]
			x := s.x0[i*embDim : (i+1)*embDim]
			for j := range x {
				x[j] = e[j] + (e[j] + tm[j])
			}
		}
	}

	x := s.x0
	for li := range w.l {
		l := &w.l[li]
		d := l.dIn
		// Attention block: y = attention(LN(x))·Wo + bo + residual(x).
		layerNorm(s.h, x, np, d, l.ln1s, l.ln1b)
		matMul(s.qkv, 3*d, s.h, d, np, l.qkv, l.qkvB, &s.pack)
		clear(s.ctx[n*d : np*d])
		for t := range texts {
			a, b := starts[t], starts[t+1]
			attention(s.ctx[a*d:], s.qkv[a*3*d:], b-a, d, l.heads, l.scale, s.logits)
		}
		matMul(s.y, modelDim, s.ctx, d, np, l.out, l.outB, &s.pack)
		res := x
		if l.res != nil {
			matMul(s.tmp, modelDim, x, d, np, l.res, l.resB, &s.pack)
			res = s.tmp
		}
		addTo(s.y[:np*modelDim], res[:np*modelDim])
		// Feed-forward block: relu(LN(y)·W1 + b1)·W2 + b2 + y.
		layerNorm(s.h, s.y, np, modelDim, l.ln2s, l.ln2b)
		matMul(s.f, ffnDim, s.h, modelDim, np, l.ffn1, l.ffn1B, &s.pack)
		relu(s.f[:np*ffnDim])
		if li == len(w.l)-1 {
			break // the last W2 is applied after pooling: it is linear
		}
		matMul(s.x1, modelDim, s.f, ffnDim, np, l.ffn2, l.ffn2B, &s.pack)
		addTo(s.x1[:np*modelDim], s.y[:np*modelDim])
		x = s.x1
	}

	// Mean over each text's tokens of relu(…)·W2 + b2 + y, computed as
	// mean(relu(…))·W2 + b2 + mean(y). The graph pools to 0 a text with
	// no tokens (its sum over no rows, divided by max(length, 1)).
	tp := roundUp(texts)
	s.pooled = grow(s.pooled, tp*ffnDim)
	s.py = grow(s.py, tp*modelDim)
	s.enc = grow(s.enc, tp*modelDim)
	s.vec = grow(s.vec, tp*modelDim)
	clear(s.pooled)
	clear(s.py)
	for t := range texts {
		a, b := starts[t], starts[t+1]
		if a == b {
			continue
		}
		pf := s.pooled[t*ffnDim : (t+1)*ffnDim]
		py := s.py[t*modelDim : (t+1)*modelDim]
		for i := a; i < b; i++ {
			addTo(pf, s.f[i*ffnDim:(i+1)*ffnDim])
			addTo(py, s.y[i*modelDim:(i+1)*modelDim])
		}
		inv := 1 / float32(b-a)
		scaleBy(pf, inv)
		scaleBy(py, inv)
	}
	last := &w.l[len(w.l)-1]
	matMul(s.enc, modelDim, s.pooled, ffnDim, tp, last.ffn2, last.ffn2B, &s.pack)
	for t := range texts {
		o := s.enc[t*modelDim : (t+1)*modelDim]
		if starts[t] == starts[t+1] {
			clear(o)
			continue
		}
		addTo(o, s.py[t*modelDim:(t+1)*modelDim])
	}
	// The tanh layer, then L2 normalization.
	matMul(s.vec, modelDim, s.enc, modelDim, tp, w.pool, w.poolB, &s.pack)
	for t := range texts {
		o := s.vec[t*modelDim : (t+1)*modelDim]
		var ss float32
		for j, v := range o {
			v = float32(math.Tanh(float64(v)))
			o[j] = v
			ss += v * v
		}
		scaleBy(o, float32(1/math.Sqrt(float64(max(ss, l2Epsilon)))))
	}
	return s.vec[:texts*modelDim]
}

func addTo(dst, src []float32) {
	src = src[:len(dst)]
	for i := range dst {
		dst[i] += src[i]
	}
}

func scaleBy(v []float32, s float32) {
	for i := range v {
		v[i] *= s
	}
}

// relu sets v[i] = max(v[i], 0) without branches (half the values are
// negative, so a branch would mispredict half the time).
func relu(v []float32) {
	for i, x := range v {
		// Clear every bit of a negative value: its sign bit, spread.
		b := math.Float32bits(x)
		v[i] = math.Float32frombits(b &^ uint32(int32(b)>>31))
	}
}
