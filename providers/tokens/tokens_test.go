package tokens_test

import (
	"fmt"
	"testing"

	"github.com/semgate/semgate/providers/tokens"
)

func TestEncodingFor(t *testing.T) {
	for model, want := range map[string]string{
		"gpt-4o": tokens.O200K, "gpt-4o-mini-2024-07-18": tokens.O200K, "gpt-4.1-nano": tokens.O200K,
		"gpt-5-mini": tokens.O200K, "o3-mini": tokens.O200K, "gpt-4-turbo": tokens.CL100K,
		"gpt-3.5-turbo": tokens.CL100K, "text-embedding-3-small": tokens.CL100K,
		"claude-sonnet-4-5": tokens.CL100K, "mock-small": tokens.O200K, "llama3": tokens.O200K,
	} {
		if got := tokens.EncodingFor(model); got != want {
			t.Errorf("EncodingFor(%q) = %q, want %q", model, got, want)
		}
	}
}

func TestCountKnownValues(t *testing.T) {
	// Reference counts from OpenAI's tiktoken.
	for _, tt := range []struct {
		model, text string
		want        int
	}{
		{"gpt-4o", "hello world", 2},
		{"gpt-4", "hello world", 2},
		{"gpt-4o", "", 0},
		{"gpt-4", "tiktoken is great!", 6},
	} {
		if got := tokens.Count(tt.model, tt.text); got != tt.want {
			t.Errorf("Count(%q, %q) = %d, want %d", tt.model, tt.text, got, tt.want)
		}
	}
}

func TestPromptAndBound(t *testing.T) {
	body := []byte(`{"model":"m","messages":[{"role":"system","content":"Be terse."},{"role":"user","content":[{"type":"text","text":"What is in this picture?"},{"type":"image_url","image_url":{"url":"data:,"}}]}],"tools":[{"type":"function","function":{"name":"f"}}]}`)
	p := tokens.Prompt("gpt-4o", "chat", body)
	b := tokens.Bound("chat", body)
	if p <= tokens.PerImage || p > b {
		t.Fatalf("Prompt %d, Bound %d: want PerImage < Prompt <= Bound", p, b)
	}
	for _, tt := range []struct {
		ep, body string
		want     int
	}{
		{"completions", `{"prompt":[[1,2,3],[4]]}`, 4},
		{"completions", `{"prompt":[1,2,3]}`, 3},
		{"embeddings", `{"input":"hello world"}`, 2},
	} {
		if got := tokens.Prompt("gpt-4o", tt.ep, []byte(tt.body)); got != tt.want {
			t.Errorf("Prompt(%s) = %d, want %d", tt.body, got, tt.want)
		}
	}
}

func BenchmarkBound(b *testing.B) {
	body := []byte(`{"model":"m","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"Explain the difference between a mutex and a channel in Go, with an example."}]}`)
	b.ReportAllocs()
	for b.Loop() {
		tokens.Bound("chat", body)
	}
}

func BenchmarkCount(b *testing.B) {
	text := "Explain the difference between a mutex and a channel in Go, with an example."
	tokens.Count("gpt-4o", "warm up")
	b.ReportAllocs()
	for b.Loop() {
		tokens.Count("gpt-4o", text)
	}
}

func ExampleCount() {
	fmt.Println(tokens.Count("gpt-4o", "hello world"))
	// Output: 2
}
