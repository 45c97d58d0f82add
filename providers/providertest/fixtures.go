package providertest

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"testing"

	"github.com/semgate/semgate/providers"
)

//go:embed testdata
var testdata embed.FS

// Names of the OpenAI fixtures in testdata/, for Fixture and ServeFixture.
// Error bodies are named "openai_error_<status>.json" for 400, 401, 404,
// 429, 500 and 503; OpenAIError serves them.
const (
	// OpenAIChat is a non-streamed chat.completion.
	OpenAIChat = "openai_chat.json"
	// OpenAIChatStream is the same answer streamed with
	// stream_options.include_usage: a role chunk, content chunks, a finish
	// chunk, a usage chunk (empty choices) and data: [DONE].
	OpenAIChatStream = "openai_chat_stream.sse"
	// OpenAIChatToolStream is a streamed answer that calls one function
	// (finish_reason "tool_calls"); it has no text content.
	OpenAIChatToolStream = "openai_chat_tool_stream.sse"
	// OpenAICompletions is a legacy /completions text_completion.
	OpenAICompletions = "openai_completions.json"
	// OpenAIEmbeddings is an /embeddings list of two 8-dimensional vectors.
	OpenAIEmbeddings = "openai_embeddings.json"
)

// Content types OpenAI answers with.
const (
	ContentTypeJSON = "application/json"
	ContentTypeSSE  = "text/event-stream; charset=utf-8"
)

// Fixture returns a fresh copy of the named file in testdata/. It panics if
// there is no such file, as a test helper should.
func Fixture(name string) []byte {
	b, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		panic("providertest: no fixture " + name)
	}
	return b
}

// ServeFixture answers every request with status 200, the given Content-Type
// and the named fixture. See ServeFixtureStatus.
func ServeFixture(contentType, name string) http.Handler {
	return ServeFixtureStatus(http.StatusOK, contentType, name)
}

// ServeFixtureStatus answers every request with status, the given
// Content-Type and the named fixture. It reads the request body first. When
// contentType is text/event-stream the fixture is written one event at a
// time, each flushed, as a live upstream would.
func ServeFixtureStatus(status int, contentType, name string) http.Handler {
	body := Fixture(name)
	stream := strings.HasPrefix(contentType, "text/event-stream")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		if !stream {
			_, _ = w.Write(body)
			return
		}
		rc := http.NewResponseController(w)
		for rest := body; len(rest) > 0; {
			i := eventEnd(rest)
			if i < 0 {
				i = len(rest)
			}
			if _, err := w.Write(rest[:i]); err != nil {
				return
			}
			_ = rc.Flush()
			rest = rest[i:]
		}
	})
}

// OpenAIError answers every request with status and an OpenAI error body:
// the recorded one for that status when testdata/ has it, otherwise
// {"error":{"message":<status text>,"type":...,"param":null,"code":null}}.
func OpenAIError(status int) http.Handler {
	name := fmt.Sprintf("openai_error_%d.json", status)
	if _, err := fs.Stat(testdata, "testdata/"+name); err == nil {
		return ServeFixtureStatus(status, ContentTypeJSON, name)
	}
	typ := "invalid_request_error"
	if status >= 500 {
		typ = "server_error"
	}
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"message": http.StatusText(status), "type": typ, "param": nil, "code": nil,
	}})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", ContentTypeJSON)
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
}

// OpenAI returns the Harness of an upstream that speaks OpenAI's wire
// format, replaying the recorded fixtures; newProvider builds the adapter.
func OpenAI(newProvider func(t *testing.T, name, baseURL string, opts providers.HTTPOptions) providers.Provider) Harness {
	return Harness{
		New:        newProvider,
		ChatPath:   "/chat/completions",
		Chat:       ServeFixture(ContentTypeJSON, OpenAIChat),
		ChatStream: ServeFixture(ContentTypeSSE, OpenAIChatStream),
		Error:      OpenAIError,
	}
}

// eventEnd returns the index just past the blank line ending the first
// server-sent event in b, or -1 if b holds no complete event.
func eventEnd(b []byte) int {
	end := -1
	for _, sep := range [...]string{"\n\n", "\r\n\r\n", "\r\r"} {
		if i := bytes.Index(b, []byte(sep)); i >= 0 && (end < 0 || i+len(sep) < end) {
			end = i + len(sep)
		}
	}
	return end
}
