// Package embedtest is the conformance suite every embed.Embedder must
// pass. Run it from a test against a fresh embedder:
//
//	func TestConformance(t *testing.T) {
//		embedtest.Run(t, myEmbedder)
//	}
//
// or with RunNew, which also checks that two instances built the same way
// agree. The suite sends only non-empty texts except in its EmptyText
// check, which accepts either a valid vector or an error wrapping
// embed.ErrEmptyInput.
package embedtest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"github.com/semgate/semgate/embed"
)

// Texts is the suite's corpus: short and long, ASCII and not, texts that
// need Unicode normalization, punctuation only, digits, emoji.
var Texts = func() []string {
	t := []string{
		"What is Go?",
		"How do I reset my password?",
		"How can I reset my password?",
		"Write a haiku about autumn leaves",
		"Ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ and ﬁ ligatures",
		"Café crème brûlée — naïve résumé",
		"東京の天気はどうですか？",
		"Привет, как дела?",
		"?!",
		"a",
		"42",
		"🙂🙃 emoji only 🚀",
		"tabs\tand\nnewlines\r\nmixed",
		strings.Repeat("A long prompt with many repeated words and some variety: alpha beta gamma. ", 60),
	}
	for i := range 136 { // 150 in all: more than one batch of a remote embedder
		t = append(t, fmt.Sprintf("generated prompt number %d about topic %d", i, i%7))
	}
	return t
}()

// Run checks e against the Embedder contract: dimension, unit norm, finite
// values, determinism, batch == one by one, order, empty batches, caller-
// owned results, concurrent use (run it with -race) and cancellation.
func Run(t *testing.T, e embed.Embedder) {
	t.Helper()
	s := &suite{e: e}
	t.Run("Vectors", s.testVectors)
	t.Run("ID", s.testID)
	t.Run("Deterministic", s.testDeterministic)
	t.Run("BatchEqualsSingle", s.testBatchEqualsSingle)
	t.Run("DuplicatesInBatch", s.testDuplicates)
	t.Run("EmptyBatch", s.testEmptyBatch)
	t.Run("EmptyText", s.testEmptyText)
	t.Run("CallerOwnsResult", s.testCallerOwns)
	t.Run("Concurrent", s.testConcurrent)
	t.Run("Canceled", s.testCanceled)
}

// RunNew runs Run on an embedder from newEmbedder, then checks that a
// second one has the same ID and gives identical vectors.
func RunNew(t *testing.T, newEmbedder func(t *testing.T) embed.Embedder) {
	t.Helper()
	a := newEmbedder(t)
	Run(t, a)
	t.Run("FreshInstance", func(t *testing.T) {
		b := newEmbedder(t)
		va := mustEmbed(t, a, Texts[:20])
		vb := mustEmbed(t, b, Texts[:20])
		if a.ID() != b.ID() {
			t.Fatalf("ID %q, fresh instance %q", a.ID(), b.ID())
		}
		for i := range va {
			if !equal(va[i], vb[i]) {
				t.Fatalf("text %d (%.30q): fresh instance gives a different vector", i, Texts[i])
			}
		}
	})
}

type suite struct {
	e embed.Embedder
}

func mustEmbed(t *testing.T, e embed.Embedder, texts []string) [][]float32 {
	t.Helper()
	v, err := e.Embed(context.Background(), texts)
	if err != nil {
		t.Fatalf("Embed(%d texts): %v", len(texts), err)
	}
	if len(v) != len(texts) {
		t.Fatalf("Embed(%d texts) returned %d vectors", len(texts), len(v))
	}
	return v
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// checkVector reports why v is not a valid vector of e, or "".
func (s *suite) checkVector(v []float32) string {
	if d := s.e.Dim(); len(v) != d {
		return fmt.Sprintf("length %d, Dim() %d", len(v), d)
	}
	var n float64
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Sprintf("element %d is %v", i, x)
		}
		n += float64(x) * float64(x)
	}
	if n = math.Sqrt(n); math.Abs(n-1) > 1e-4 {
		return fmt.Sprintf("L2 norm %v, want 1±1e-4", n)
	}
	return ""
}

func (s *suite) testVectors(t *testing.T) {
	v := mustEmbed(t, s.e, Texts)
	if s.e.Dim() <= 0 {
		t.Fatalf("Dim() = %d after a successful Embed", s.e.Dim())
	}
	distinct := map[string]bool{}
	for i, x := range v {
		if msg := s.checkVector(x); msg != "" {
			t.Errorf("text %d (%.30q): %s", i, Texts[i], msg)
		}
		distinct[fmt.Sprint(x)] = true
	}
	if len(distinct) < len(Texts)*9/10 {
		t.Errorf("%d distinct vectors for %d distinct texts", len(distinct), len(Texts))
	}
}

func (s *suite) testID(t *testing.T) {
	mustEmbed(t, s.e, Texts[:1])
	id := s.e.ID()
	if id == "" || strings.ContainsAny(id, " \t\n") {
		t.Fatalf("ID() = %q: want a non-empty token", id)
	}
	mustEmbed(t, s.e, Texts[1:3])
	if s.e.ID() != id {
		t.Fatalf("ID changed from %q to %q", id, s.e.ID())
	}
	if !strings.Contains(id, fmt.Sprint(s.e.Dim())) {
		t.Errorf("ID %q does not name the dimension %d", id, s.e.Dim())
	}
}

func (s *suite) testDeterministic(t *testing.T) {
	a := mustEmbed(t, s.e, Texts[:20])
	b := mustEmbed(t, s.e, Texts[:20])
	for i := range a {
		if !equal(a[i], b[i]) {
			t.Errorf("text %d (%.30q): two calls give different vectors", i, Texts[i])
		}
	}
}

func (s *suite) testBatchEqualsSingle(t *testing.T) {
	batch := mustEmbed(t, s.e, Texts)
	for i, text := range Texts {
		one := mustEmbed(t, s.e, []string{text})
		if !equal(batch[i], one[0]) {
			t.Errorf("text %d (%.30q): batch and one-by-one vectors differ", i, text)
		}
	}
	// Reversed order: results follow the input order.
	rev := make([]string, len(Texts))
	for i, x := range Texts {
		rev[len(Texts)-1-i] = x
	}
	r := mustEmbed(t, s.e, rev)
	for i := range r {
		if !equal(r[i], batch[len(Texts)-1-i]) {
			t.Fatalf("reversed batch: vector %d is not that of its text", i)
		}
	}
}

func (s *suite) testDuplicates(t *testing.T) {
	in := []string{Texts[0], Texts[1], Texts[0], Texts[0], Texts[1]}
	v := mustEmbed(t, s.e, in)
	for i := range in {
		for j := range in {
			if in[i] == in[j] && !equal(v[i], v[j]) {
				t.Fatalf("texts %d and %d are equal, their vectors differ", i, j)
			}
		}
	}
}

func (s *suite) testEmptyBatch(t *testing.T) {
	for _, in := range [][]string{nil, {}} {
		v, err := s.e.Embed(context.Background(), in)
		if err != nil {
			t.Fatalf("Embed(%#v): %v", in, err)
		}
		if len(v) != 0 {
			t.Fatalf("Embed(%#v) returned %d vectors", in, len(v))
		}
	}
}

func (s *suite) testEmptyText(t *testing.T) {
	for _, text := range []string{"", " \t\n "} {
		v, err := s.e.Embed(context.Background(), []string{text})
		if err != nil {
			if !errors.Is(err, embed.ErrEmptyInput) {
				t.Errorf("Embed(%q): %v; want a vector or an error wrapping embed.ErrEmptyInput", text, err)
			}
			continue
		}
		if len(v) != 1 {
			t.Fatalf("Embed(%q) returned %d vectors", text, len(v))
		}
		if msg := s.checkVector(v[0]); msg != "" {
			t.Errorf("Embed(%q): %s", text, msg)
		}
		again := mustEmbed(t, s.e, []string{text})
		if !equal(v[0], again[0]) {
			t.Errorf("Embed(%q) is not deterministic", text)
		}
	}
}

func (s *suite) testCallerOwns(t *testing.T) {
	in := Texts[:3]
	a := mustEmbed(t, s.e, in)
	want := make([][]float32, len(a))
	for i := range a {
		want[i] = append([]float32(nil), a[i]...)
		for j := range a[i] {
			a[i][j] = 42 // the caller may scribble on its vectors
		}
	}
	b := mustEmbed(t, s.e, in)
	for i := range b {
		if !equal(b[i], want[i]) {
			t.Fatalf("text %d: modifying a returned vector changed a later result", i)
		}
	}
}

func (s *suite) testConcurrent(t *testing.T) {
	const workers, rounds = 8, 10
	texts := Texts[:24]
	want := mustEmbed(t, s.e, texts)
	var wg sync.WaitGroup
	errs := make(chan string, workers*rounds)
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				lo := (w*rounds + r) % len(texts)
				hi := min(lo+1+(w+r)%5, len(texts))
				v, err := s.e.Embed(context.Background(), texts[lo:hi])
				if err != nil {
					errs <- err.Error()
					return
				}
				for i := range v {
					if !equal(v[i], want[lo+i]) {
						errs <- fmt.Sprintf("worker %d: text %d differs from the sequential result", w, lo+i)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func (s *suite) testCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	v, err := s.e.Embed(ctx, []string{"a text never embedded before: canceled"})
	if err == nil {
		t.Fatalf("Embed with a canceled context returned %d vectors and no error", len(v))
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Embed with a canceled context: %v; want an error wrapping context.Canceled", err)
	}
}
