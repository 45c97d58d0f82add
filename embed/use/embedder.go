package use

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unicode/utf8"
)

// Package sentinels. Errors returned by this package wrap one of them; test
// with errors.Is.
var (
	// ErrInvalidOptions: an Options value failed Validate.
	ErrInvalidOptions = errors.New("use: invalid options")
	// ErrWeights: the embedded weight file is corrupt (it never is in a
	// binary built from a clean checkout).
	ErrWeights = errors.New("use: bad weight file")
)

// ID is the embedder's vector space: Universal Sentence Encoder lite
// (English), semgate's port version 1, 512 dimensions, weights stored as
// int8 in blocks (q8).
const ID = "use-lite-en-v1-512-q8"

// Dim is the vector length.
const Dim = modelDim

// Options tunes an Embedder. The zero value is the default.
type Options struct {
	// Workers is the most goroutines one Embed call uses for a batch of
	// texts. 0 means runtime.GOMAXPROCS(0) at construction; 1 embeds on
	// the calling goroutine only.
	Workers int `yaml:"workers"`
	// BatchSize is the most texts embedded in one forward pass (their
	// tokens, at most 128 each, share the matrix products; a pass also
	// ends at 512 tokens); a call's texts are split into chunks of this
	// size, which the workers share out. 0 means DefaultBatchSize.
	BatchSize int `yaml:"batch_size"`
}

// DefaultBatchSize is the default Options.BatchSize.
const DefaultBatchSize = 16

// Validate reports every problem with o at once; each wraps
// ErrInvalidOptions.
func (o Options) Validate() error {
	var errs []error
	if o.Workers < 0 || o.Workers > 1024 {
		errs = append(errs, fmt.Errorf("%w: workers must be 0 to 1024, not %d", ErrInvalidOptions, o.Workers))
	}
	if o.BatchSize < 0 || o.BatchSize > 1024 {
		errs = append(errs, fmt.Errorf("%w: batch_size must be 0 to 1024, not %d", ErrInvalidOptions, o.BatchSize))
	}
	return errors.Join(errs...)
}

// Embedder embeds texts with the Universal Sentence Encoder lite model,
// in pure Go, offline. It is safe for concurrent use.
type Embedder struct {
	w         *weights
	workers   int
	batchSize int
	pool      sync.Pool // *scratch
}

// New returns an Embedder. The weights (embedded in the binary) are
// decoded on the first call, about 0.1 s of CPU, and shared by all
// Embedders.
func New(o Options) (*Embedder, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	w, err := load()
	if err != nil {
		return nil, err
	}
	e := &Embedder{w: w, workers: o.Workers, batchSize: o.BatchSize}
	if e.workers == 0 {
		e.workers = runtime.GOMAXPROCS(0)
	}
	if e.batchSize == 0 {
		e.batchSize = DefaultBatchSize
	}
	e.pool.New = func() any { return new(scratch) }
	return e, nil
}

// Dim returns 512.
func (e *Embedder) Dim() int { return Dim }

// ID returns the vector space's name, "use-lite-en-v1-512-q8".
func (e *Embedder) ID() string { return ID }

// Tokenizer returns the model's tokenizer.
func (e *Embedder) Tokenizer() *Tokenizer { return e.w.tok }

// Embed returns one unit vector per text. An empty text gets the model's
// vector for no tokens (the same for every empty text); text past the
// model's 128th token is ignored. Embed checks ctx before it starts and
// between batches of texts.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("use: %w", err)
	}
	out := make([][]float32, len(texts))
	if len(texts) == 0 {
		return out, nil
	}
	backing := make([]float32, len(texts)*Dim)
	for i := range out {
		out[i] = backing[i*Dim : (i+1)*Dim : (i+1)*Dim]
	}
	// Split the texts into chunks of consecutive texts; workers take
	// chunks in turn. Tokenizing is done per chunk, by its worker.
	chunk := e.batchSize
	nChunks := (len(texts) + chunk - 1) / chunk
	workers := min(e.workers, nChunks)
	if workers <= 1 {
		for c := range nChunks {
			if c > 0 {
				if err := ctx.Err(); err != nil {
					return nil, fmt.Errorf("use: %w", err)
				}
			}
			e.embedChunk(texts[c*chunk:min(len(texts), (c+1)*chunk)], out[c*chunk:])
		}
		return out, nil
	}
	var (
		mu   sync.Mutex
		next int
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				c := next
				next++
				mu.Unlock()
				if c >= nChunks || ctx.Err() != nil {
					return
				}
				e.embedChunk(texts[c*chunk:min(len(texts), (c+1)*chunk)], out[c*chunk:])
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("use: %w", err)
	}
	return out, nil
}

// maxPassTokens bounds the tokens of one forward pass (so a worker's
// scratch stays under about 16 MB); a chunk of long texts is embedded in
// several passes. Grouping never changes a vector.
const maxPassTokens = 512

// embedChunk embeds texts into out[:len(texts)].
func (e *Embedder) embedChunk(texts []string, out [][]float32) {
	s := e.pool.Get().(*scratch)
	defer e.pool.Put(s)
	first := 0 // first text of the pending pass
	s.ids = s.ids[:0]
	s.starts = append(s.starts[:0], 0)
	flush := func() {
		v := e.w.forward(s, s.ids, s.starts)
		for i := range len(s.starts) - 1 {
			copy(out[first+i], v[i*Dim:(i+1)*Dim])
		}
		first += len(s.starts) - 1
		s.ids = s.ids[:0]
		s.starts = append(s.starts[:0], 0)
	}
	for _, t := range texts {
		start := len(s.ids)
		s.ids = e.w.tok.encode(s.ids, tokenPrefix(t), &s.tok)
		n := min(len(s.ids)-start, maxTokens)
		if start > 0 && start+n > maxPassTokens {
			// Embed the pending texts first; move this one's ids down.
			ids := append(s.tok.rev[:0], s.ids[start:start+n]...)
			s.ids = s.ids[:start]
			flush()
			s.ids = append(s.ids, ids...)
			s.tok.rev = ids
			start = 0
		}
		s.ids = s.ids[:start+n]
		s.starts = append(s.starts, len(s.ids))
	}
	if len(s.starts) > 1 {
		flush()
	}
}

// maxPrefixBytes bounds the text tokenized for one embedding when its
// first maxTokens words are longer than this (a text of very long words):
// the cut then falls inside a word, whose pieces near the cut may differ
// from the whole text's.
const maxPrefixBytes = 64 << 10

// tokenPrefix returns the part of text the model reads: up to the space
// after its first maxTokens words. The vocabulary has no piece with "▁"
// (a space) past its first rune, so the segmentation breaks at every
// space, every word yields at least one piece, and the prefix's pieces
// are exactly the whole text's first ones: a 4 MiB prompt costs what its
// first maxTokens words cost. (NFKC never removes a space, and a space
// composes with nothing.)
func tokenPrefix(text string) string {
	words := 0
	inWord := false
	for i := 0; i < len(text); i++ {
		if i >= maxPrefixBytes {
			for i > 0 && !utf8.RuneStart(text[i]) {
				i--
			}
			return text[:i]
		}
		if text[i] != ' ' {
			inWord = true
			continue
		}
		if inWord {
			if words++; words >= maxTokens {
				return text[:i]
			}
		}
		inWord = false
	}
	return text
}

// Kernel names the matrix-multiply kernel this process uses: "avx512-fma",
// "avx2-fma" or "go".
func Kernel() string { return kernelName }
