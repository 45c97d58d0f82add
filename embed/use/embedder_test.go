package use_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/embed/embedtest"
	"github.com/semgate/semgate/embed/use"
)

var _ embed.Embedder = (*use.Embedder)(nil)

func newEmbedder(t testing.TB, o use.Options) *use.Embedder {
	t.Helper()
	e, err := use.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestConformance(t *testing.T) {
	embedtest.RunNew(t, func(t *testing.T) embed.Embedder { return newEmbedder(t, use.Options{}) })
}

func TestConformanceOneWorker(t *testing.T) {
	embedtest.Run(t, newEmbedder(t, use.Options{Workers: 1, BatchSize: 3}))
}

func TestOptionsValidate(t *testing.T) {
	if err := (use.Options{}).Validate(); err != nil {
		t.Fatalf("zero Options: %v", err)
	}
	for _, o := range []use.Options{{Workers: -1}, {BatchSize: -5}, {Workers: 5000, BatchSize: 1 << 20}} {
		err := o.Validate()
		if !errors.Is(err, use.ErrInvalidOptions) {
			t.Errorf("%+v: %v, want ErrInvalidOptions", o, err)
		}
		if _, err := use.New(o); !errors.Is(err, use.ErrInvalidOptions) {
			t.Errorf("New(%+v): %v, want ErrInvalidOptions", o, err)
		}
	}
}

func TestIDAndDim(t *testing.T) {
	e := newEmbedder(t, use.Options{})
	if e.ID() != "use-lite-en-v1-512-q8" || e.Dim() != 512 {
		t.Fatalf("ID %q Dim %d", e.ID(), e.Dim())
	}
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

// TestParaphrases: the point of a neural embedder; paraphrases score well
// above unrelated questions.
func TestParaphrases(t *testing.T) {
	e := newEmbedder(t, use.Options{})
	v, err := e.Embed(context.Background(), []string{
		"How do I reset my password?",
		"I forgot my password, how can I change it?",
		"What is the capital of France?",
	})
	if err != nil {
		t.Fatal(err)
	}
	para, other := dot(v[0], v[1]), dot(v[0], v[2])
	if para < 0.7 || para-other < 0.3 {
		t.Fatalf("paraphrase cosine %.3f, unrelated %.3f", para, other)
	}
}

// TestLongAndOdd: texts past 128 tokens, control characters, lone bytes
// of invalid UTF-8 and emoji all give valid vectors.
func TestLongAndOdd(t *testing.T) {
	e := newEmbedder(t, use.Options{})
	long := ""
	for i := range 2000 {
		long += fmt.Sprintf("w%d ", i)
	}
	texts := []string{long, long + " tail that is past the limit", "\xff\xfe bad utf-8 \x80", "\x00\x01\x02", "🙂"}
	v, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, x := range v {
		var n float64
		for _, f := range x {
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				t.Fatalf("text %d: non-finite", i)
			}
			n += float64(f) * float64(f)
		}
		if math.Abs(n-1) > 1e-4 {
			t.Fatalf("text %d: norm² %v", i, n)
		}
	}
	if dot(v[0], v[1]) < 0.99999 {
		t.Errorf("text past 128 tokens changed the vector: cosine %v", dot(v[0], v[1]))
	}
}

func ExampleEmbedder() {
	e, err := use.New(use.Options{})
	if err != nil {
		panic(err)
	}
	v, err := e.Embed(context.Background(), []string{
		"How do I reset my password?",
		"How can I change my password?",
		"Best pizza in Naples",
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(e.ID(), len(v[0]))
	fmt.Printf("paraphrase > unrelated: %v\n", dot(v[0], v[1]) > dot(v[0], v[2]))
	// Output:
	// use-lite-en-v1-512-q8 512
	// paraphrase > unrelated: true
}

// TestManyLongTexts: a batch whose tokens exceed one forward pass is
// embedded in several, with the same vectors as one by one.
func TestManyLongTexts(t *testing.T) {
	e := newEmbedder(t, use.Options{Workers: 1})
	var texts []string
	for i := range 12 {
		s := fmt.Sprintf("text %d:", i)
		for j := range 60 + i*10 {
			s += fmt.Sprintf(" w%d", (i*7+j)%50)
		}
		texts = append(texts, s, "short one")
	}
	batch, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range texts {
		one, err := e.Embed(context.Background(), []string{s})
		if err != nil {
			t.Fatal(err)
		}
		for j := range one[0] {
			if math.Float32bits(one[0][j]) != math.Float32bits(batch[i][j]) {
				t.Fatalf("text %d: batch and single differ", i)
			}
		}
	}
}
