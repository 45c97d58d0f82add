package mock_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/mock"
)

func ExampleNew() {
	p, err := mock.New("mock", mock.Options{MinTokens: 8, MaxTokens: 8})
	if err != nil {
		panic(err)
	}
	resp, err := p.Do(context.Background(), &providers.Request{
		Endpoint: providers.EndpointChat,
		Model:    "gpt-test",
		Body:     []byte(`{"model":"gpt-test","messages":[{"role":"user","content":"Hi!"}]}`),
	})
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var answer struct {
		Choices []struct {
			Message struct{ Content string }
		}
		Usage struct {
			CompletionTokens int `json:"completion_tokens"`
		}
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		panic(err)
	}
	fmt.Println(answer.Choices[0].Message.Content)
	fmt.Println(answer.Usage.CompletionTokens, "tokens")

	// A request can ask for a fault.
	_, err = p.Do(context.Background(), &providers.Request{
		Endpoint: providers.EndpointChat,
		Body:     []byte(`{"model":"gpt-test","messages":[{"role":"user","content":"Hi!"}],"mock_fault":"429"}`),
	})
	var upstream *providers.Error
	fmt.Println(errors.As(err, &upstream), upstream.Status, upstream.RetryAfter, errors.Is(err, mock.ErrFault))
	// Output:
	// Mock answer c1e962: Vector route low.
	// 8 tokens
	// true 429 1 true
}
