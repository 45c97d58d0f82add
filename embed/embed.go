package embed

import (
	"context"
	"errors"
	"math"
)

// Embedder turns texts into vectors.
//
// Embed returns one vector per text, in order, each of length Dim() and
// unit L2 norm; an empty texts slice gives an empty result. The returned
// slices belong to the caller. Embed returns an error wrapping ctx.Err()
// when ctx is done before it finishes (an embedder that does no I/O checks
// only before it starts and between texts).
//
// ID names the vector space: it includes the algorithm, its version, its
// settings and the dimension, so that vectors with different IDs are never
// compared. Implementations are safe for concurrent use.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
	Dim() int
	ID() string
}

// Prober is implemented by embedders whose dimension may be unknown until
// they have produced a vector (an [OpenAI] embedder with no dimensions set
// reports Dim() == 0 until its first successful call). Probe makes one
// call so that Dim and ID are settled; it is a no-op once they are.
type Prober interface {
	Probe(ctx context.Context) error
}

// Package sentinels. Errors returned by this package wrap one of them; test
// with errors.Is.
var (
	// ErrInvalidOptions: an Options value failed Validate.
	ErrInvalidOptions = errors.New("embed: invalid options")
	// ErrUpstream: a remote embedder could not be reached, timed out or
	// answered with a non-2xx status (see [StatusError]).
	ErrUpstream = errors.New("embed: upstream error")
	// ErrBadResponse: a remote embedder answered 2xx with a body that is
	// not a valid embeddings response for the request (wrong count,
	// inconsistent or unexpected dimension, non-finite or zero vectors,
	// malformed JSON).
	ErrBadResponse = errors.New("embed: bad response")
	// ErrEmptyInput: a remote embedder was asked to embed an empty or
	// all-whitespace text, which OpenAI-compatible servers reject.
	// ([Lexical] accepts such texts.)
	ErrEmptyInput = errors.New("embed: empty input")
)

// normalize scales v to unit L2 norm in place. It reports false, leaving v
// unchanged, when v has a NaN or infinite element or is all zeros.
func normalize(v []float32) bool {
	var s float64
	for _, x := range v {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return false
		}
		s += float64(f * f)
	}
	if s == 0 {
		return false
	}
	// float32 values squared and summed in float64 cannot overflow.
	inv := 1 / math.Sqrt(s)
	for i, x := range v {
		v[i] = float32(float64(x) * inv)
	}
	return true
}
