package providers

import (
	"context"
	"io"
	"net/http"
)

// API names a client API other than Chat Completions that a provider may
// take as it is (native pass-through) instead of as its chat translation.
type API uint8

// The client APIs a provider may speak natively.
const (
	APIMessages  API = iota + 1 // Anthropic's POST /v1/messages
	APIResponses                // OpenAI's POST /v1/responses
)

// String returns a short name for logs and metric labels.
func (a API) String() string {
	switch a {
	case APIMessages:
		return "messages"
	case APIResponses:
		return "responses"
	}
	return "unknown"
}

// NativeRequest is a client's request in its own API (Messages or
// Responses), passed through to an upstream that speaks that API.
type NativeRequest struct {
	// API is the request's API.
	API API
	// Model is the upstream model name; Body already carries it.
	Model string
	// Body is the client's JSON body with only "model" rewritten to Model.
	// Providers must not modify it; it may be shared with retries.
	Body []byte
	// Stream reports whether Body asks for a streamed answer.
	Stream bool
	// Header holds the client's headers the API forwards as sent
	// (anthropic-version and anthropic-beta for Messages); may be nil.
	Header http.Header
	// RequestID is semgate's id of the client request; may be empty.
	RequestID string
	// Raw, when not nil, receives the upstream's 2xx answer body exactly
	// as it was sent, as it is read: the JSON body, or the event stream
	// byte for byte. It is written from the goroutine reading
	// Response.Body (or within DoNative for a JSON answer, which is read
	// whole), never after Body returned its end.
	Raw io.Writer
}

// Native is implemented by providers that can take requests of some client
// APIs as they are. The gateway finds it with a type assertion.
type Native interface {
	// Speaks reports whether the provider takes api's requests natively.
	Speaks(api API) bool
	// DoNative sends req.Body unchanged (but for its model) to the
	// upstream's native endpoint. It returns, like Provider.Do, a 2xx
	// answer or an error wrapping *Error; the Response's Body holds the
	// answer translated into Chat Completions form (a chat.completion, or
	// a chat.completion.chunk stream ending with "data: [DONE]", usage
	// included) for the gateway's cache and accounting, while req.Raw
	// receives the native bytes relayed to the client.
	DoNative(ctx context.Context, req *NativeRequest) (*Response, error)
}

// TokenCounter is implemented by providers whose upstream counts a
// request's prompt tokens (Anthropic's POST /v1/messages/count_tokens).
type TokenCounter interface {
	// CountTokens sends req.Body (a count_tokens body of req.API, model
	// rewritten) and returns the upstream's 2xx JSON answer as it is, or
	// an error wrapping *Error (ErrUnsupported for an API it cannot
	// count).
	CountTokens(ctx context.Context, req *NativeRequest) ([]byte, error)
}
