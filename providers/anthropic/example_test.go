package anthropic_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/anthropic"
)

func Example() {
	// A stand-in for api.anthropic.com answering with a recorded message.
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5",
			"content":[{"type":"text","text":"Paris is the capital of France."}],
			"stop_reason":"end_turn","usage":{"input_tokens":12,"output_tokens":9}}`)
	}))
	defer upstream.Close()

	p, err := anthropic.New("claude", anthropic.Options{
		HTTPOptions: providers.HTTPOptions{BaseURL: upstream.URL, APIKey: "sk-ant-example"},
	})
	if err != nil {
		panic(err)
	}
	resp, err := p.Do(context.Background(), &providers.Request{
		Endpoint: providers.EndpointChat,
		Model:    "claude-sonnet-4-5",
		Body: []byte(`{"model":"claude-sonnet-4-5","messages":[
			{"role":"system","content":"Be brief."},
			{"role":"user","content":"What is the capital of France?"}]}`),
	})
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()

	var completion struct {
		Object  string
		Choices []struct {
			Message      struct{ Role, Content string }
			FinishReason string `json:"finish_reason"`
		}
		Usage struct {
			TotalTokens int `json:"total_tokens"`
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&completion); err != nil {
		panic(err)
	}
	c := completion.Choices[0]
	fmt.Println(completion.Object, c.Message.Role, c.FinishReason, completion.Usage.TotalTokens)
	fmt.Println(c.Message.Content)
	// Output:
	// chat.completion assistant stop 21
	// Paris is the capital of France.
}
