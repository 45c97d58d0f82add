package gateway

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/semgate/semgate/providers/providertest"
	"github.com/semgate/semgate/semcache/answer"
)

// TestRecordedUpstreams drives the gateway against upstreams replaying
// recorded answers in OpenAI's and Anthropic's own formats, streamed and
// not, and checks what an OpenAI client receives.
func TestRecordedUpstreams(t *testing.T) {
	anthropicFile := func(name string) []byte {
		b, err := os.ReadFile("../providers/anthropic/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	serve := func(ct string, body []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", ct)
			w.Write(body)
		}
	}
	tests := []struct {
		name, typ string
		handler   http.HandlerFunc
		stream    bool
		tool      bool
	}{
		{"openai json", "openai", serve("application/json", providertest.Fixture("openai_chat.json")), false, false},
		{"openai stream", "openai", serve("text/event-stream", providertest.Fixture("openai_chat_stream.sse")), true, false},
		{"openai tool stream", "openai", serve("text/event-stream", providertest.Fixture("openai_chat_tool_stream.sse")), true, true},
		{"anthropic json", "anthropic", serve("application/json", anthropicFile("chat_text.json")), false, false},
		{"anthropic stream", "anthropic", serve("text/event-stream", anthropicFile("stream_text.sse")), true, false},
		{"anthropic tool stream", "anthropic", serve("text/event-stream", anthropicFile("stream_tool_use.sse")), true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, url := upstream(t, tt.handler)
			if tt.typ == "anthropic" {
				url = strings.TrimSuffix(url, "/v1")
			}
			cfg := "providers:\n  - {name: up, type: " + tt.typ + ", base_url: \"" + url + "\", api_key: k}\n" +
				"models:\n  - {name: m, deployments: [{provider: up, model: upstream-model}]}\ncache: {disabled: true}\n"
			ts := newTestServer(t, cfg, nil)
			body := `{"model":"m","messages":[{"role":"user","content":"hi"}]`
			if tt.stream {
				body += `,"stream":true,"stream_options":{"include_usage":true}`
			}
			resp := post(t, ts.URL+"/v1/chat/completions", body+"}")
			if resp.StatusCode != 200 || resp.Header.Get("X-Semgate-Provider") != "up" {
				t.Fatalf("status %d, provider %q: %s", resp.StatusCode, resp.Header.Get("X-Semgate-Provider"), readBody(t, resp))
			}
			var got []byte
			if tt.stream {
				events := readEvents(t, resp.Body)
				if events[len(events)-1] != "[DONE]" {
					t.Fatalf("no [DONE]: %q", events)
				}
				asm := answer.NewAssembler("chat")
				for _, e := range events[:len(events)-1] {
					if err := asm.Add([]byte(e)); err != nil {
						t.Fatal(err)
					}
				}
				var err error
				if got, err = asm.Result(); err != nil {
					t.Fatalf("stream does not assemble: %v", err)
				}
			} else {
				got = readBody(t, resp)
			}
			var c struct {
				Object  string `json:"object"`
				Choices []struct {
					Message struct {
						Content   *string `json:"content"`
						ToolCalls []struct {
							Function struct{ Name, Arguments string } `json:"function"`
						} `json:"tool_calls"`
					} `json:"message"`
					FinishReason string `json:"finish_reason"`
				} `json:"choices"`
				Usage struct {
					Prompt, Completion, Total int
				} `json:"usage"`
			}
			if err := json.Unmarshal(got, &c); err != nil || c.Object != "chat.completion" || len(c.Choices) == 0 {
				t.Fatalf("%s: %v", got, err)
			}
			ch := c.Choices[0]
			if tt.tool {
				if len(ch.Message.ToolCalls) == 0 || !json.Valid([]byte(ch.Message.ToolCalls[0].Function.Arguments)) || ch.FinishReason != "tool_calls" {
					t.Fatalf("tool call answer: %s", got)
				}
			} else if ch.Message.Content == nil || *ch.Message.Content == "" || ch.FinishReason == "" {
				t.Fatalf("text answer: %s", got)
			}
		})
	}
}
