package providers

import (
	"context"
	"io"
	"net/http"
)

// Endpoint names an OpenAI API operation a Request targets.
type Endpoint uint8

// The endpoints semgate serves.
const (
	EndpointChat        Endpoint = iota + 1 // POST /v1/chat/completions
	EndpointCompletions                     // POST /v1/completions
	EndpointEmbeddings                      // POST /v1/embeddings
)

// Path returns the endpoint's path relative to an OpenAI base URL, e.g.
// "/chat/completions".
func (e Endpoint) Path() string {
	switch e {
	case EndpointChat:
		return "/chat/completions"
	case EndpointCompletions:
		return "/completions"
	case EndpointEmbeddings:
		return "/embeddings"
	}
	return ""
}

// String returns a short name for logs and metric labels.
func (e Endpoint) String() string {
	switch e {
	case EndpointChat:
		return "chat"
	case EndpointCompletions:
		return "completions"
	case EndpointEmbeddings:
		return "embeddings"
	}
	return "unknown"
}

// Request is one call to an upstream, in OpenAI's wire format.
type Request struct {
	// Endpoint is the operation.
	Endpoint Endpoint
	// Model is the upstream model name; Body already carries it.
	Model string
	// Body is the OpenAI-format JSON request body with "model" set to Model.
	// Providers must not modify it; it may be shared with retries.
	Body []byte
	// Stream reports whether Body asks for a streamed answer.
	Stream bool
	// RequestID is semgate's id of the client request, forwarded as
	// x-request-id where the upstream accepts it. May be empty.
	RequestID string
}

// Response is an upstream's successful (2xx) answer in OpenAI's wire format.
type Response struct {
	// Status is the HTTP status the upstream answered with (2xx).
	Status int
	// Header holds upstream response headers safe to pass on; may be nil.
	// The upstream's own id of the request, when it sent one, is under
	// "X-Request-Id" (OpenAI) or "Request-Id" (Anthropic).
	Header http.Header
	// Body is OpenAI-format JSON, or, when the request streamed, Server-Sent
	// Events carrying OpenAI chunks and ending with "data: [DONE]". The caller
	// must Close it; closing early cancels the upstream request.
	Body io.ReadCloser
}

// Provider sends requests to one upstream account.
//
// Do returns a *Response only for a 2xx answer. Any failure, including a
// non-2xx answer, is returned as an error wrapping *Error, so callers can
// decide on status and retries with errors.As. The response body's lifetime
// is bound to ctx: cancelling ctx aborts the upstream request.
type Provider interface {
	Do(ctx context.Context, req *Request) (*Response, error)
}

// Named is implemented by providers that know the name they were configured
// under; the gateway reports it in x-semgate-provider.
type Named interface {
	Name() string
}
