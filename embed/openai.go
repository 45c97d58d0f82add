package embed

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode"
)

// maxResponseBytes bounds an embeddings response body (2048 texts of 4096
// float32s as JSON is about 200 MiB; a batch of 64 is under 10 MiB).
const maxResponseBytes = 256 << 20

// OpenAI embeds texts with an OpenAI-compatible /v1/embeddings endpoint
// (OpenAI, Ollama, vLLM, TEI...). Create it with [NewOpenAI]; it is safe
// for concurrent use and starts no goroutines of its own (its HTTP
// client's connections have some: Close releases the idle ones).
//
// It sends {"model", "input": [texts], "encoding_format": "float"} plus
// "dimensions" when set, at most BatchSize texts a request, and checks the
// answer: one embedding per text (ordered by "index"), all of one
// dimension (the configured one, or the first one seen), finite and not
// all zero. It L2-normalizes the vectors. It does not retry: a failed call
// returns an error wrapping ErrUpstream (transport, timeout, non-2xx: see
// [StatusError]) or ErrBadResponse, so the caller can fall back.
type OpenAI struct {
	endpoint string
	host     string
	key      Secret
	model    string
	dims     int // requested dimensions, 0 = not sent
	batch    int
	client   *http.Client
	own      *http.Transport // the client's transport when we made it

	learnt atomic.Int64 // the dimension seen, when dims == 0
}

var (
	_ Embedder  = (*OpenAI)(nil)
	_ Prober    = (*OpenAI)(nil)
	_ io.Closer = (*OpenAI)(nil)
)

// NewOpenAI returns a remote embedder for o. dims, when positive, is sent
// as "dimensions" and is the Dim; when 0 the Dim is learnt from the first
// response (see [Prober]). It does no I/O.
func NewOpenAI(dims int, o OpenAIOptions) (*OpenAI, error) {
	var errs []error
	if dims < 0 || dims > MaxOpenAIDim {
		errs = append(errs, optErr("dimensions", "must be 0 to %d for openai, not %d", MaxOpenAIDim, dims))
	}
	errs = append(errs, o.validate("openai."))
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	base := o.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, _ := url.Parse(strings.TrimRight(base, "/")) // validated
	if u.Path == "" {
		u.Path = "/v1"
	}
	u.Path += "/embeddings"
	e := &OpenAI{
		endpoint: u.String(),
		host:     u.Host,
		key:      o.APIKey,
		model:    o.Model,
		dims:     dims,
		batch:    orDefault(o.BatchSize, DefaultBatchSize),
		client:   o.HTTPClient,
	}
	timeout := o.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	if e.client == nil {
		e.own = http.DefaultTransport.(*http.Transport).Clone()
		e.own.MaxIdleConnsPerHost = 64
		e.client = &http.Client{Transport: e.own}
	}
	// Bound each request, body included, without touching a shared client.
	c := *e.client
	c.Timeout = timeout
	e.client = &c
	return e, nil
}

// Dim returns the configured dimension, or the one learnt from the first
// response, or 0 before that.
func (e *OpenAI) Dim() int {
	if e.dims > 0 {
		return e.dims
	}
	return int(e.learnt.Load())
}

// ID returns "openai:<host>/<model>/<dim>", e.g.
// "openai:api.openai.com/text-embedding-3-small/1536". Until the dimension
// is known (Dim() == 0) it ends in "/0".
func (e *OpenAI) ID() string {
	return "openai:" + e.host + "/" + e.model + "/" + strconv.Itoa(e.Dim())
}

// String describes the embedder (its ID and endpoint; never the key).
func (e *OpenAI) String() string { return e.ID() + " (" + e.endpoint + ")" }

// GoString keeps %#v from printing the fields (the key among them).
func (e *OpenAI) GoString() string { return "embed.OpenAI(" + e.String() + ")" }

// Probe embeds one short text when the dimension is not known yet, so
// that Dim and ID are settled.
func (e *OpenAI) Probe(ctx context.Context) error {
	if e.Dim() > 0 {
		return nil
	}
	_, err := e.Embed(ctx, []string{"dimension probe"})
	return err
}

// Close releases the idle connections of the embedder's own HTTP client (a
// client passed in OpenAIOptions is left alone). The embedder stays usable.
func (e *OpenAI) Close() error {
	if e.own != nil {
		e.own.CloseIdleConnections()
	}
	return nil
}

// Embed embeds texts, BatchSize at a time, one request after another. An
// empty or all-white-space text fails with ErrEmptyInput before any
// request is sent.
func (e *OpenAI) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUpstream, err)
	}
	for i, t := range texts {
		if strings.TrimFunc(t, unicode.IsSpace) == "" {
			return nil, fmt.Errorf("%w: text %d is empty or white space", ErrEmptyInput, i)
		}
	}
	out := make([][]float32, 0, len(texts))
	for start := 0; start < len(texts); start += e.batch {
		end := min(start+e.batch, len(texts))
		vecs, err := e.request(ctx, texts[start:end])
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
	}
	return out, nil
}

type embeddingsRequest struct {
	Model          string   `json:"model"`
	Input          []string `json:"input"`
	EncodingFormat string   `json:"encoding_format"`
	Dimensions     int      `json:"dimensions,omitempty"`
}

type embeddingsResponse struct {
	Data []struct {
		Index     *int            `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
}

// request sends one batch and returns its checked, normalized vectors.
func (e *OpenAI) request(ctx context.Context, texts []string) ([][]float32, error) {
	body, err := json.Marshal(embeddingsRequest{Model: e.model, Input: texts, EncodingFormat: "float", Dimensions: e.dims})
	if err != nil {
		return nil, fmt.Errorf("embed: openai: encoding request: %w", err) // cannot happen
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUpstream, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "semgate-embed")
	if k := e.key.Reveal(); k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrUpstream, e.host, e.redact(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: reading response: %w", ErrUpstream, e.host, e.redact(err))
	}
	if resp.StatusCode/100 != 2 {
		return nil, &StatusError{StatusCode: resp.StatusCode, Message: e.redactString(errorMessage(raw))}
	}
	if len(raw) > maxResponseBytes {
		return nil, fmt.Errorf("%w: response over %d bytes", ErrBadResponse, maxResponseBytes)
	}
	return e.parse(raw, len(texts))
}

// parse checks a 2xx body and returns its vectors in input order.
func (e *OpenAI) parse(raw []byte, n int) ([][]float32, error) {
	var r embeddingsResponse
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadResponse, err)
	}
	if len(r.Data) != n {
		return nil, fmt.Errorf("%w: %d embeddings for %d texts", ErrBadResponse, len(r.Data), n)
	}
	out := make([][]float32, n)
	dim := e.Dim()
	for j, d := range r.Data {
		i := j // servers that omit "index" answer in order
		if d.Index != nil {
			i = *d.Index
		}
		if i < 0 || i >= n || out[i] != nil {
			return nil, fmt.Errorf("%w: embedding index %d out of range or repeated", ErrBadResponse, i)
		}
		v, err := decodeVector(d.Embedding)
		if err != nil {
			return nil, fmt.Errorf("%w: embedding %d: %v", ErrBadResponse, i, err)
		}
		if len(v) == 0 {
			return nil, fmt.Errorf("%w: embedding %d is empty", ErrBadResponse, i)
		}
		if dim == 0 {
			dim = len(v)
		}
		if len(v) != dim {
			return nil, fmt.Errorf("%w: embedding %d has %d dimensions, want %d", ErrBadResponse, i, len(v), dim)
		}
		if !normalize(v) {
			return nil, fmt.Errorf("%w: embedding %d is all zeros or not finite", ErrBadResponse, i)
		}
		out[i] = v
	}
	if e.dims == 0 && !e.learnt.CompareAndSwap(0, int64(dim)) && int(e.learnt.Load()) != dim {
		return nil, fmt.Errorf("%w: embeddings have %d dimensions, earlier ones %d", ErrBadResponse, dim, e.learnt.Load())
	}
	return out, nil
}

// decodeVector decodes a JSON array of numbers or, from servers that
// ignore encoding_format, a base64 string of little-endian float32s.
func decodeVector(raw json.RawMessage) ([]float32, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("base64: %v", err)
		}
		if len(b)%4 != 0 {
			return nil, fmt.Errorf("base64 embedding of %d bytes is not float32s", len(b))
		}
		v := make([]float32, len(b)/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		return v, nil
	}
	var f []float64 // float64 so that out-of-float32-range values are seen
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, err
	}
	v := make([]float32, len(f))
	for i, x := range f {
		if math.Abs(x) > math.MaxFloat32 {
			return nil, fmt.Errorf("element %d (%g) out of float32 range", i, x)
		}
		v[i] = float32(x)
	}
	return v, nil
}

// StatusError is a non-2xx answer from a remote embedder. It wraps
// ErrUpstream; use errors.As to read the status.
type StatusError struct {
	StatusCode int
	Message    string // the upstream's error message, shortened, key redacted
}

func (e *StatusError) Error() string {
	s := "embed: upstream error: HTTP " + strconv.Itoa(e.StatusCode)
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap makes errors.Is(err, ErrUpstream) true.
func (e *StatusError) Unwrap() error { return ErrUpstream }

// errorMessage extracts an OpenAI-style {"error": {"message"}} or
// {"error": "..."} message from body, or else returns its start.
func errorMessage(body []byte) string {
	var b struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &b) == nil && len(b.Error) > 0 {
		var o struct {
			Message string `json:"message"`
		}
		var s string
		if json.Unmarshal(b.Error, &o) == nil && o.Message != "" {
			return shorten(o.Message)
		}
		if json.Unmarshal(b.Error, &s) == nil && s != "" {
			return shorten(s)
		}
	}
	return shorten(string(bytes.TrimSpace(body)))
}

func shorten(s string) string {
	const max = 300
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && s[i]&0xC0 == 0x80 { // keep UTF-8 whole
		i--
	}
	return s[:i] + "…"
}

func (e *OpenAI) redactString(s string) string {
	if k := e.key.Reveal(); k != "" {
		s = strings.ReplaceAll(s, k, "[redacted]")
	}
	return s
}

// redact keeps the key out of transport errors (it is only ever in a
// header, but an error may quote a request).
func (e *OpenAI) redact(err error) error {
	if k := e.key.Reveal(); k != "" && strings.Contains(err.Error(), k) {
		return &redactedError{msg: e.redactString(err.Error()), err: err}
	}
	return err
}

// redactedError prints msg and unwraps to err, so errors.Is still sees
// context.Canceled and the like.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
