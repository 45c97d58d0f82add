package use

import (
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/semgate/semgate/embed/use/internal/wfile"
)

// reference is testdata/reference.json.gz, written by testdata/gen/gen.js
// with the Node packages the model comes from.
type reference struct {
	Dim   int `json:"dim"`
	Items []struct {
		Text   string  `json:"text"`
		Tokens []int32 `json:"tokens"`
	} `json:"items"`
	F16  string `json:"embeddings_f16"`
	vecs [][]float32
}

func loadReference(t testing.TB) *reference {
	t.Helper()
	f, err := os.Open("testdata/reference.json.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.NewDecoder(zr).Decode(&r); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(r.F16)
	if err != nil {
		t.Fatal(err)
	}
	if r.Dim != Dim || len(raw) != len(r.Items)*Dim*2 {
		t.Fatalf("reference: dim %d, %d bytes for %d items", r.Dim, len(raw), len(r.Items))
	}
	r.vecs = make([][]float32, len(r.Items))
	for i := range r.vecs {
		v := make([]float32, Dim)
		for j := range v {
			v[j] = wfile.F16ToF32(binary.LittleEndian.Uint16(raw[(i*Dim+j)*2:]))
		}
		r.vecs[i] = v
	}
	return &r
}

func cosine(a, b []float32) float64 {
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return d / math.Sqrt(na*nb)
}

// TestTokenizerMatchesReference: every reference text tokenizes to exactly
// the reference's ids.
func TestTokenizerMatchesReference(t *testing.T) {
	r := loadReference(t)
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, it := range r.Items {
		got := e.Tokenizer().Encode(nil, it.Text)
		want := it.Tokens
		if want == nil {
			want = []int32{}
		}
		if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			bad++
			if bad <= 5 {
				t.Errorf("%.60q: ids %v, reference %v", it.Text, got, want)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d texts tokenize differently", bad, len(r.Items))
	}
}

// TestMatchesReference: cosine ≥ 0.999 to the reference vector for every
// reference text (a subset under -short or -race), with each kind of
// kernel this CPU runs (bfloat16 and float32 weights where it has
// AVX512_BF16).
func TestMatchesReference(t *testing.T) {
	r := loadReference(t)
	for _, k := range kernelKinds(t) {
		t.Run(k.name, func(t *testing.T) { matchesReference(t, r, k.e) })
	}
}

func matchesReference(t *testing.T, r *reference, e *Embedder) {
	n := len(r.Items)
	step := 1
	if testing.Short() || raceEnabled {
		step = 10
	}
	var texts []string
	var idx []int
	for i := 0; i < n; i += step {
		texts = append(texts, r.Items[i].Text)
		idx = append(idx, i)
	}
	if step > 1 { // keep every edge case: they are at the end
		for i := max(0, n-50); i < n; i++ {
			if i%step != 0 {
				texts = append(texts, r.Items[i].Text)
				idx = append(idx, i)
			}
		}
	}
	got, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	minCos, sum := 2.0, 0.0
	for k, i := range idx {
		c := cosine(got[k], r.vecs[i])
		sum += c
		if c < minCos {
			minCos = c
		}
		if c < 0.999 {
			t.Errorf("%.60q: cosine %.6f to the reference", r.Items[i].Text, c)
		}
	}
	t.Logf("%d texts: cosine to the reference min %.6f, mean %.6f", len(idx), minCos, sum/float64(len(idx)))
}
