package mock

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/fnv"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/sse"
)

const (
	chat   = providers.EndpointChat
	compl  = providers.EndpointCompletions
	embedE = providers.EndpointEmbeddings
)

func TestChatShape(t *testing.T) {
	p := newProvider(t, Options{})
	body := mustCall(t, p, chat, chatBody(""))
	var c chatCompletion
	decodeStrict(t, body, &c)
	if !strings.HasPrefix(c.ID, "chatcmpl-mock-") || c.Object != "chat.completion" || c.Created != Created ||
		c.Model != "gpt-test" || c.SystemFingerprint != SystemFingerprint {
		t.Fatalf("envelope: %s", body)
	}
	if len(c.Choices) != 1 {
		t.Fatalf("choices: %s", body)
	}
	ch := c.Choices[0]
	if ch.Index != 0 || ch.Message.Role != "assistant" || ch.Message.Content == nil || ch.Message.Refusal != nil ||
		string(ch.Logprobs) != "null" || ch.FinishReason != "stop" || ch.Message.ToolCalls != nil {
		t.Fatalf("choice: %s", body)
	}
	content := *ch.Message.Content
	if !strings.HasPrefix(content, "Mock answer ") || !strings.HasSuffix(content, ".") {
		t.Fatalf("content %q", content)
	}
	u := c.Usage
	if u.CompletionTokens != countTokens(content) {
		t.Fatalf("completion_tokens %d, content counts %d: %q", u.CompletionTokens, countTokens(content), content)
	}
	if u.CompletionTokens < DefaultMinTokens || u.CompletionTokens > DefaultMaxTokens {
		t.Fatalf("completion_tokens %d out of the default range", u.CompletionTokens)
	}
	if u.PromptTokens <= 0 || u.TotalTokens != u.PromptTokens+u.CompletionTokens || u.PromptTokensDetails == nil || u.CompletionTokensDetails == nil {
		t.Fatalf("usage: %+v", u)
	}
	// Longer prompts cost more tokens.
	long := mustCall(t, p, chat, `{"model":"gpt-test","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello there, who are you? Tell me about tokenization."}]}`)
	var lc chatCompletion
	decodeStrict(t, long, &lc)
	if lc.Usage.PromptTokens <= u.PromptTokens {
		t.Fatalf("prompt tokens %d for a longer prompt, %d for the shorter", lc.Usage.PromptTokens, u.PromptTokens)
	}
}

func TestDeterminism(t *testing.T) {
	p1, p2 := newProvider(t, Options{}), newProvider(t, Options{})
	content := func(p *Provider, body string) string {
		var c chatCompletion
		decodeStrict(t, mustCall(t, p, chat, body), &c)
		return *c.Choices[0].Message.Content
	}
	a := mustCall(t, p1, chat, chatBody(""))
	if b := mustCall(t, p2, chat, chatBody("")); !bytes.Equal(a, b) {
		t.Fatalf("same request, different bytes:\n%s\n%s", a, b)
	}
	base := content(p1, chatBody(""))
	// Formatting, key order and unknown fields do not matter.
	same := []string{
		"{\n  \"messages\": [{\"content\": \"Be brief.\", \"role\": \"system\"}, {\"role\": \"user\", \"content\": \"Hello there, who are you?\"}],\n  \"model\": \"gpt-test\", \"temperature\": 0.7\n}",
		`{"model":"gpt-test","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"Hello there, who are you?"}]}]}`,
		`{"model":"gpt\u002dtest","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello there, who are you\u003f"}]}`,
	}
	for _, body := range same[:1] {
		if got := content(p2, body); got != base {
			t.Errorf("%s: content %q, want %q", body, got, base)
		}
	}
	if got := content(p2, same[2]); got != base {
		t.Errorf("escaped strings: content %q, want %q", got, base)
	}
	different := []string{
		`{"model":"gpt-other","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello there, who are you?"}]}`,
		`{"model":"gpt-test","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hello there, who are you!"}]}`,
		`{"model":"gpt-test","messages":[{"role":"user","content":"Be brief."},{"role":"user","content":"Hello there, who are you?"}]}`,
		`{"model":"gpt-test","messages":[{"role":"user","content":"Hello there, who are you?"}]}`,
		`{"model":"gpt-test","messages":[{"role":"system","content":"Be brief."},{"role":"user","name":"bob","content":"Hello there, who are you?"}]}`,
	}
	seen := map[string]string{base: "base"}
	for _, body := range different {
		got := content(p1, body)
		if prev, dup := seen[got]; dup {
			t.Errorf("%s: same answer as %s: %q", body, prev, got)
		}
		seen[got] = body
	}
}

// TestStableHash pins the hash: answers must not change between releases
// or processes (hash/maphash would fail this).
func TestStableHash(t *testing.T) {
	p := newProvider(t, Options{})
	var c chatCompletion
	decodeStrict(t, mustCall(t, p, chat, `{"model":"m","messages":[{"role":"user","content":"hi"}]}`), &c)
	h := hashField(hashField(hashField(fnvOffset64, 'm', "m"), 'r', "user"), 'c', "hi")
	want := "chatcmpl-mock-" + string(appendHex(nil, h, 16))
	if c.ID != want {
		t.Fatalf("id %s, want %s", c.ID, want)
	}
	if c.ID != "chatcmpl-mock-eb8b87a0cc1daad5" {
		t.Fatalf("id %s changed", c.ID)
	}
	if got, want := *c.Choices[0].Message.Content, "Mock answer c262b5: Course letter, light late ask very live since of idea start input. Very token table use whole. Window, word seem."; got != want {
		t.Fatalf("answer changed:\n got %q\nwant %q", got, want)
	}
	// Under 8 bytes, hashField is FNV-64a of tag, text and 0xff.
	f := fnv.New64a()
	f.Write([]byte("xsemgate\xff"))
	if got := hashField(fnvOffset64, 'x', "semgate"); got != f.Sum64() {
		t.Fatalf("hashField = %#x, want FNV-64a %#x", got, f.Sum64())
	}
	if got := hashField(fnvOffset64, 'c', "The quick brown fox jumps over the lazy dog"); got != 0x2c3b2f083b746c77 {
		t.Fatalf("hashField of a long text = %#x; the hash changed", got)
	}
}

func TestMaxTokens(t *testing.T) {
	p := newProvider(t, Options{MinTokens: 20, MaxTokens: 20})
	full := func(extra string) (string, string, int) {
		var c chatCompletion
		decodeStrict(t, mustCall(t, p, chat, chatBody(extra)), &c)
		return *c.Choices[0].Message.Content, c.Choices[0].FinishReason, c.Usage.CompletionTokens
	}
	whole, finish, n := full("")
	if finish != "stop" || n != 20 {
		t.Fatalf("natural answer: finish %s, %d tokens", finish, n)
	}
	for _, limit := range []int{1, 4, 5, 12, 19} {
		for _, field := range []string{"max_tokens", "max_completion_tokens"} {
			got, finish, n := full(`"` + field + `":` + itoa(limit))
			if finish != "length" || n != limit || countTokens(got) != limit || !strings.HasPrefix(whole, got) {
				t.Fatalf("%s %d: %q, finish %s, %d tokens; whole %q", field, limit, got, finish, n, whole)
			}
		}
	}
	for _, limit := range []int{20, 21, 1000} {
		got, finish, n := full(`"max_tokens":` + itoa(limit))
		if got != whole || finish != "stop" || n != 20 {
			t.Fatalf("max_tokens %d: %q, %s, %d", limit, got, finish, n)
		}
	}
	// The smaller of the two limits wins.
	if _, _, n := full(`"max_tokens":3,"max_completion_tokens":9`); n != 3 {
		t.Fatalf("two limits: %d tokens", n)
	}
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func TestN(t *testing.T) {
	p := newProvider(t, Options{})
	var one, three chatCompletion
	decodeStrict(t, mustCall(t, p, chat, chatBody("")), &one)
	decodeStrict(t, mustCall(t, p, chat, chatBody(`"n":3`)), &three)
	if len(three.Choices) != 3 {
		t.Fatalf("%d choices", len(three.Choices))
	}
	sum := 0
	seen := map[string]bool{}
	for i, ch := range three.Choices {
		if ch.Index != i {
			t.Fatalf("choice %d has index %d", i, ch.Index)
		}
		c := *ch.Message.Content
		if seen[c] {
			t.Fatalf("choices repeat %q", c)
		}
		seen[c] = true
		sum += countTokens(c)
	}
	if *three.Choices[0].Message.Content != *one.Choices[0].Message.Content {
		t.Fatal("choice 0 depends on n")
	}
	if three.Usage.CompletionTokens != sum || three.Usage.PromptTokens != one.Usage.PromptTokens {
		t.Fatalf("usage %+v, completion sum %d", three.Usage, sum)
	}
}

const weatherTools = `"tools":[{"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{}}}},` +
	`{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object",` +
	`"properties":{"days":{"type":"integer"},"unit":{"type":"string","enum":["celsius","fahrenheit"]},"city":{"type":"string"},"hourly":{"type":"boolean"},"note":{"type":["null","string"]}},` +
	`"required":["city","unit","days","hourly","note"]}}}]`

func TestTools(t *testing.T) {
	p := newProvider(t, Options{})
	get := func(extra string) chatCompletion {
		var c chatCompletion
		decodeStrict(t, mustCall(t, p, chat, chatBody(extra)), &c)
		return c
	}
	named := get(weatherTools + `,"tool_choice":{"type":"function","function":{"name":"get_weather"}},"n":2`)
	for _, ch := range named.Choices {
		if ch.FinishReason != "tool_calls" || ch.Message.Content != nil || len(ch.Message.ToolCalls) != 1 {
			t.Fatalf("choice %+v", ch)
		}
		tc := ch.Message.ToolCalls[0]
		if tc.Type != "function" || tc.Function.Name != "get_weather" || !strings.HasPrefix(tc.ID, "call_mock_") {
			t.Fatalf("call %+v", tc)
		}
		var args struct {
			City   string
			Unit   string
			Days   *int
			Hourly *bool
			Note   *string
		}
		if err := json.Unmarshal([]byte(tc.Function.Arguments), &args); err != nil {
			t.Fatalf("arguments %q: %v", tc.Function.Arguments, err)
		}
		if args.City == "" || (args.Unit != "celsius" && args.Unit != "fahrenheit") || args.Days == nil || args.Hourly == nil || args.Note == nil {
			t.Fatalf("arguments %s", tc.Function.Arguments)
		}
		if !strings.HasPrefix(tc.Function.Arguments, `{"city":`) {
			t.Fatalf("arguments not in required order: %s", tc.Function.Arguments)
		}
	}
	if named.Usage.CompletionTokens <= 0 {
		t.Fatalf("usage %+v", named.Usage)
	}
	required := get(weatherTools + `,"tool_choice":"required"`)
	if tc := required.Choices[0].Message.ToolCalls; len(tc) != 1 || tc[0].Function.Name != "get_time" || tc[0].Function.Arguments != "{}" {
		t.Fatalf("required: %+v", required.Choices[0].Message)
	}
	for _, choice := range []string{"", `,"tool_choice":"auto"`, `,"tool_choice":"none"`} {
		c := get(weatherTools + choice)
		if c.Choices[0].FinishReason != "stop" || c.Choices[0].Message.Content == nil {
			t.Fatalf("%q: %+v", choice, c.Choices[0])
		}
	}
}

func TestChatStream(t *testing.T) {
	p := newProvider(t, Options{})
	for _, tt := range []struct {
		name, extra string
	}{
		{"plain", ""},
		{"n", `"n":3`},
		{"max_tokens", `"max_tokens":7,"n":2`},
		{"tools", weatherTools + `,"tool_choice":{"type":"function","function":{"name":"get_weather"}},"n":2`},
	} {
		for _, usage := range []bool{false, true} {
			var whole chatCompletion
			decodeStrict(t, mustCall(t, p, chat, chatBody(tt.extra)), &whole)
			extra := `"stream":true`
			if usage {
				extra += `,"stream_options":{"include_usage":true}`
			}
			if tt.extra != "" {
				extra += "," + tt.extra
			}
			raw := mustCall(t, p, chat, chatBody(extra))
			s := parseChatStream(t, raw)
			for _, c := range s.chunks {
				if c.ID != whole.ID || c.Created != Created || c.Model != whole.Model || c.SystemFingerprint != SystemFingerprint {
					t.Fatalf("%s: chunk envelope %+v", tt.name, c)
				}
			}
			for i, ch := range whole.Choices {
				if s.roles[i] != "assistant" || s.finish[i] != ch.FinishReason {
					t.Fatalf("%s: choice %d role %q finish %q, want %q", tt.name, i, s.roles[i], s.finish[i], ch.FinishReason)
				}
				if ch.Message.Content != nil && s.content[i] != *ch.Message.Content {
					t.Fatalf("%s: choice %d streamed %q, whole %q", tt.name, i, s.content[i], *ch.Message.Content)
				}
				if len(ch.Message.ToolCalls) == 1 && s.args[i] != ch.Message.ToolCalls[0].Function.Arguments {
					t.Fatalf("%s: choice %d streamed arguments %q, whole %q", tt.name, i, s.args[i], ch.Message.ToolCalls[0].Function.Arguments)
				}
			}
			if len(s.finish) != len(whole.Choices) {
				t.Fatalf("%s: %d finished choices", tt.name, len(s.finish))
			}
			if !usage {
				if s.usage != nil || bytes.Contains(raw, []byte(`"usage"`)) {
					t.Fatalf("%s: usage without include_usage", tt.name)
				}
				continue
			}
			last := s.chunks[len(s.chunks)-1]
			if last.Usage == nil || len(last.Choices) != 0 || *last.Usage != whole.Usage && !sameUsage(*last.Usage, whole.Usage) {
				t.Fatalf("%s: last chunk %+v, want usage %+v", tt.name, last, whole.Usage)
			}
			if n := bytes.Count(raw, []byte(`"usage":null`)); n != len(s.chunks)-1 {
				t.Fatalf("%s: %d chunks with usage null, want %d", tt.name, n, len(s.chunks)-1)
			}
		}
	}
}

func sameUsage(a, b usageJSON) bool {
	return a.PromptTokens == b.PromptTokens && a.CompletionTokens == b.CompletionTokens && a.TotalTokens == b.TotalTokens
}

func TestStreamTokenPerChunk(t *testing.T) {
	p := newProvider(t, Options{})
	s := parseChatStream(t, mustCall(t, p, chat, chatBody(`"stream":true,"stream_options":{"include_usage":true}`)))
	tokens := 0
	for _, c := range s.chunks {
		for _, ch := range c.Choices {
			if ch.Delta.Content != nil && *ch.Delta.Content != "" {
				if n := countTokens(*ch.Delta.Content); n != 1 {
					t.Fatalf("chunk %q holds %d tokens", *ch.Delta.Content, n)
				}
				tokens++
			}
		}
	}
	if tokens != s.usage.CompletionTokens {
		t.Fatalf("%d content chunks, usage says %d", tokens, s.usage.CompletionTokens)
	}
}

func TestCompletions(t *testing.T) {
	p := newProvider(t, Options{})
	body := mustCall(t, p, compl, `{"model":"instruct","prompt":["Say this is a test","Another"],"n":2,"max_tokens":9}`)
	var c textCompletion
	decodeStrict(t, body, &c)
	if !strings.HasPrefix(c.ID, "cmpl-mock-") || c.Object != "text_completion" || c.Created != Created || c.Model != "instruct" || len(c.Choices) != 4 || c.Usage == nil {
		t.Fatalf("completion: %s", body)
	}
	sum := 0
	for i, ch := range c.Choices {
		if ch.Index != i || *ch.FinishReason != "length" || string(ch.Logprobs) != "null" || countTokens(ch.Text) != 9 {
			t.Fatalf("choice %d: %+v", i, ch)
		}
		sum += 9
	}
	if c.Usage.CompletionTokens != sum || c.Usage.PromptTokens != countTokens("Say this is a test")+countTokens("Another") {
		t.Fatalf("usage %+v", c.Usage)
	}
	var one textCompletion
	decodeStrict(t, mustCall(t, p, compl, `{"model":"instruct","prompt":"Say this is a test","max_tokens":9}`), &one)
	if one.Choices[0].Text != c.Choices[0].Text {
		t.Fatal("a prompt's answer depends on the other prompts")
	}

	// Streamed: the same texts, chunk by chunk.
	for _, usage := range []bool{false, true} {
		extra := ""
		if usage {
			extra = `,"stream_options":{"include_usage":true}`
		}
		raw := mustCall(t, p, compl, `{"model":"instruct","prompt":["Say this is a test","Another"],"n":2,"max_tokens":9,"stream":true`+extra+`}`)
		texts, finish := map[int]string{}, map[int]string{}
		var gotUsage *usageJSON
		for _, data := range events(t, raw) {
			var ch textCompletion
			decodeStrict(t, data, &ch)
			if ch.ID != c.ID || ch.Object != "text_completion" {
				t.Fatalf("chunk %s", data)
			}
			for _, x := range ch.Choices {
				texts[x.Index] += x.Text
				if x.FinishReason != nil {
					finish[x.Index] = *x.FinishReason
				}
			}
			if ch.Usage != nil {
				gotUsage = ch.Usage
			}
		}
		for i, ch := range c.Choices {
			if texts[i] != ch.Text || finish[i] != "length" {
				t.Fatalf("streamed choice %d: %q %q, want %q", i, texts[i], finish[i], ch.Text)
			}
		}
		if usage != (gotUsage != nil) || usage && !sameUsage(*gotUsage, *c.Usage) {
			t.Fatalf("usage %v: %+v", usage, gotUsage)
		}
	}
	// Token-id prompts.
	decodeStrict(t, mustCall(t, p, compl, `{"model":"instruct","prompt":[[1,2,3],[4]]}`), &c)
	if len(c.Choices) != 2 || c.Usage.PromptTokens != 4 {
		t.Fatalf("token prompts: %+v", c)
	}
}

// floats decodes an embedding in either encoding.
func floats(t *testing.T, raw json.RawMessage) []float32 {
	t.Helper()
	var out []float32
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b)%4 != 0 {
			t.Fatalf("base64 %q: %v", s, err)
		}
		for i := 0; i < len(b); i += 4 {
			out = append(out, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
		}
		return out
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func norm(v []float32) float64 {
	s := 0.0
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

func TestEmbeddings(t *testing.T) {
	p := newProvider(t, Options{})
	get := func(body string) embeddingList {
		var l embeddingList
		decodeStrict(t, mustCall(t, p, embedE, body), &l)
		if l.Object != "list" || l.Model != "emb" || l.Usage.PromptTokens <= 0 || l.Usage.TotalTokens != l.Usage.PromptTokens {
			t.Fatalf("list: %+v", l)
		}
		for i, d := range l.Data {
			if d.Object != "embedding" || d.Index != i {
				t.Fatalf("item %d: %+v", i, d)
			}
		}
		return l
	}
	fl := get(`{"model":"emb","input":["hello world","goodbye"]}`)
	b64 := get(`{"model":"emb","input":["hello world","goodbye"],"encoding_format":"base64"}`)
	if len(fl.Data) != 2 || len(b64.Data) != 2 {
		t.Fatal("want 2 embeddings")
	}
	for i := range fl.Data {
		a, b := floats(t, fl.Data[i].Embedding), floats(t, b64.Data[i].Embedding)
		if len(a) != DefaultDimensions || len(b) != DefaultDimensions {
			t.Fatalf("dims %d %d", len(a), len(b))
		}
		for j := range a {
			if a[j] != b[j] {
				t.Fatalf("vector %d[%d]: float %v, base64 %v", i, j, a[j], b[j])
			}
		}
		if n := norm(a); math.Abs(n-1) > 1e-5 {
			t.Fatalf("norm %v", n)
		}
	}
	if floats(t, fl.Data[0].Embedding)[0] == floats(t, fl.Data[1].Embedding)[0] {
		t.Fatal("different inputs, same vector")
	}
	one := get(`{"model":"emb","input":"hello world"}`)
	if !bytes.Equal(one.Data[0].Embedding, fl.Data[0].Embedding) {
		t.Fatal("an input's vector depends on the other inputs")
	}
	// dimensions: a re-normalised prefix, for every encoding.
	for _, enc := range []string{"float", "base64"} {
		small := get(`{"model":"emb","input":"hello world","dimensions":7,"encoding_format":"` + enc + `"}`)
		s, big := floats(t, small.Data[0].Embedding), floats(t, fl.Data[0].Embedding)
		if len(s) != 7 || math.Abs(norm(s)-1) > 1e-5 {
			t.Fatalf("%s: %d dims, norm %v", enc, len(s), norm(s))
		}
		scale := norm(big[:7])
		for j := range s {
			if math.Abs(float64(s[j])-float64(big[j])/scale) > 1e-5 {
				t.Fatalf("%s: dims 7 is not the prefix of dims 256", enc)
			}
		}
	}
	if l := get(`{"model":"emb","input":[[1,2],[3]]}`); len(l.Data) != 2 || l.Usage.PromptTokens != 3 {
		t.Fatalf("token inputs: %+v", l.Usage)
	}
	if l := get(`{"model":"emb","input":[1,2,3]}`); len(l.Data) != 1 || l.Usage.PromptTokens != 3 {
		t.Fatalf("token input: %+v", l.Usage)
	}
	p16 := newProvider(t, Options{Dimensions: 16})
	var l embeddingList
	decodeStrict(t, mustCall(t, p16, embedE, `{"model":"emb","input":"x"}`), &l)
	if len(floats(t, l.Data[0].Embedding)) != 16 {
		t.Fatal("Options.Dimensions ignored")
	}
}

func TestBadRequests(t *testing.T) {
	p := newProvider(t, Options{})
	for _, tt := range []struct {
		ep          providers.Endpoint
		body        string
		param, code string
	}{
		{chat, ``, "", ""},
		{chat, `{"model":`, "", ""},
		{chat, `[1,2]`, "", ""},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],}`, "", ""},
		{chat, `{"messages":[{"role":"user","content":"x"}]}`, "model", "missing_required_parameter"},
		{chat, `{"model":7,"messages":[]}`, "model", "invalid_type"},
		{chat, `{"model":"m"}`, "messages", "missing_required_parameter"},
		{chat, `{"model":"m","messages":{}}`, "messages", "invalid_type"},
		{chat, `{"model":"m","messages":[]}`, "messages", "empty_array"},
		{chat, `{"model":"m","messages":["hi"]}`, "messages[0]", "invalid_type"},
		{chat, `{"model":"m","messages":[{"content":"x"}]}`, "messages[0].role", "missing_required_parameter"},
		{chat, `{"model":"m","messages":[{"role":"bot","content":"x"}]}`, "messages[0].role", "invalid_value"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"},{"role":"user"}]}`, "messages[1].content", "missing_required_parameter"},
		{chat, `{"model":"m","messages":[{"role":"user","content":5}]}`, "messages[0].content", "invalid_type"},
		{chat, `{"model":"m","messages":[{"role":"user","content":[{"text":"x"}]}]}`, "messages[0].content[0].type", "missing_required_parameter"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}`, "max_tokens", "integer_below_min_value"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":1.5}`, "max_tokens", "invalid_type"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],"max_completion_tokens":"9"}`, "max_completion_tokens", "invalid_type"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],"n":0}`, "n", "integer_below_min_value"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],"n":129}`, "n", "integer_above_max_value"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}`, "stream", "invalid_type"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}`, "stream_options", "invalid_value"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"include_usage":1}}`, "stream_options.include_usage", "invalid_type"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[]}`, "tools", "empty_array"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{}}]}`, "tools[0].function.name", "missing_required_parameter"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"web"}]}`, "tools[0].type", "invalid_value"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"required"}`, "tool_choice", "invalid_value"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],` + weatherTools + `,"tool_choice":"always"}`, "tool_choice", "invalid_value"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],` + weatherTools + `,"tool_choice":{"type":"function","function":{"name":"nope"}}}`, "tool_choice", "invalid_value"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],"mock_fault":"explode"}`, "mock_fault", "invalid_value"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],"mock_fault":"600"}`, "mock_fault", "invalid_value"},
		{chat, `{"model":"m","messages":[{"role":"user","content":"x"}],"mock_latency_ms":-1}`, "mock_latency_ms", "invalid_value"},
		{compl, `{"model":"m"}`, "prompt", "missing_required_parameter"},
		{compl, `{"model":"m","prompt":[]}`, "prompt", "empty_array"},
		{compl, `{"model":"m","prompt":["a",1]}`, "prompt", "invalid_type"},
		{compl, `{"model":"m","prompt":{}}`, "prompt", "invalid_type"},
		{embedE, `{"model":"m"}`, "input", "missing_required_parameter"},
		{embedE, `{"model":"m","input":""}`, "input", "invalid_value"},
		{embedE, `{"model":"m","input":["a",""]}`, "input[1]", "invalid_value"},
		{embedE, `{"model":"m","input":[["a"]]}`, "input[0]", "invalid_type"},
		{embedE, `{"model":"m","input":"a","dimensions":0}`, "dimensions", "integer_below_min_value"},
		{embedE, `{"model":"m","input":"a","encoding_format":"hex"}`, "encoding_format", "invalid_value"},
	} {
		_, err := call(t, p, tt.ep, tt.body)
		var pe *providers.Error
		if !errors.As(err, &pe) || !errors.Is(err, ErrBadRequest) || !errors.Is(err, providers.ErrStatus) {
			t.Fatalf("%s: err %v", tt.body, err)
		}
		if pe.Status != 400 || pe.Type != "invalid_request_error" || pe.Param != tt.param || pe.Code != tt.code || pe.Message == "" || pe.Retryable() {
			t.Errorf("%s: got %+v, want param %q code %q", tt.body, pe, tt.param, tt.code)
		}
	}
	if s := p.Stats(); s.BadRequests != s.Requests || s.Faults != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestUnsupportedEndpoint(t *testing.T) {
	p := newProvider(t, Options{})
	_, err := p.Do(context.Background(), &providers.Request{Endpoint: 99, Body: []byte(`{}`)})
	if !errors.Is(err, providers.ErrUnsupported) {
		t.Fatalf("err %v", err)
	}
}

func TestProviderFaults(t *testing.T) {
	p := newProvider(t, Options{RetryAfter: 7})
	statusCases := []struct {
		kind      string
		status    int
		retry     int
		retryable bool
	}{
		{"429", 429, 7, true},
		{"500", 500, 0, true},
		{"503", 503, 0, true},
		{"401", 401, 0, false},
		{"599", 599, 0, false},
	}
	for _, tt := range statusCases {
		_, err := call(t, p, chat, chatBody(`"mock_fault":"`+tt.kind+`"`))
		var pe *providers.Error
		if !errors.As(err, &pe) || !errors.Is(err, providers.ErrStatus) || !errors.Is(err, ErrFault) {
			t.Fatalf("%s: %v", tt.kind, err)
		}
		if pe.Status != tt.status || pe.RetryAfter != tt.retry || pe.Retryable() != tt.retryable || pe.Provider != "mock" || pe.Message == "" || pe.Type == "" {
			t.Fatalf("%s: %+v", tt.kind, pe)
		}
	}

	_, err := call(t, p, embedE, `{"model":"e","input":"x","mock_fault":"reset"}`)
	var pe *providers.Error
	if !errors.As(err, &pe) || !errors.Is(err, providers.ErrUnavailable) || !errors.Is(err, ErrFault) || !pe.Retryable() {
		t.Fatalf("reset: %v", err)
	}

	// stall: Do blocks until ctx ends.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = p.Do(ctx, &providers.Request{Endpoint: chat, Body: []byte(chatBody(`"mock_fault":"stall"`))})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stall: %v", err)
	}

	for _, ep := range []providers.Endpoint{chat, compl, embedE} {
		body := map[providers.Endpoint]string{chat: chatBody(""), compl: `{"model":"m","prompt":"p"}`, embedE: `{"model":"m","input":"p"}`}[ep]
		good := mustCall(t, p, ep, body)
		for _, kind := range []string{"truncate", "malformed"} {
			b := mustCall(t, p, ep, strings.Replace(body, `{`, `{"mock_fault":"`+kind+`",`, 1))
			if json.Valid(b) {
				t.Fatalf("%v %s: valid JSON %s", ep, kind, b)
			}
			if kind == "truncate" && !bytes.HasPrefix(good, b) {
				t.Fatalf("%v truncate: not a prefix", ep)
			}
		}
	}

	// "none" beats FaultRate 1.
	always := newProvider(t, Options{FaultRate: 1})
	if _, err := call(t, always, chat, chatBody(`"mock_fault":"none"`)); err != nil {
		t.Fatalf("none: %v", err)
	}
	if _, err := call(t, always, chat, chatBody("")); !errors.Is(err, ErrFault) {
		t.Fatalf("fault rate 1: %v", err)
	}
	if s := always.Stats(); s.Requests != 2 || s.Faults != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestProviderStreamFaults(t *testing.T) {
	p := newProvider(t, Options{MinTokens: 10, MaxTokens: 10})
	body := func(kind string) string {
		return chatBody(`"stream":true,"mock_fault":"` + kind + `"`)
	}
	good := parseChatStream(t, mustCall(t, p, chat, chatBody(`"stream":true`)))

	// truncate: ends cleanly between events, halfway, without [DONE].
	raw := mustCall(t, p, chat, body("truncate"))
	r := sse.NewReader(bytes.NewReader(raw))
	n := 0
	for {
		ev, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil || bytes.Equal(ev.Data, sse.Done) || !json.Valid(ev.Data) {
			t.Fatalf("truncate: %v %s", err, ev.Data)
		}
		n++
	}
	if n == 0 || n >= len(good.chunks) {
		t.Fatalf("truncate: %d events of %d", n, len(good.chunks))
	}

	// malformed: one chunk is not JSON; the stream still ends with [DONE].
	raw = mustCall(t, p, chat, body("malformed"))
	bad := 0
	for _, data := range events(t, raw) {
		if !json.Valid(data) {
			bad++
		}
	}
	if bad != 1 {
		t.Fatalf("malformed: %d invalid chunks\n%s", bad, raw)
	}

	// stall: some chunks arrive, then Read blocks until ctx ends.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := p.Do(ctx, &providers.Request{Endpoint: chat, Body: []byte(body("stall")), Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	first, err := resp.Body.Read(make([]byte, 64<<10))
	if err != nil || first == 0 {
		t.Fatalf("stall: first read %d %v", first, err)
	}
	time.AfterFunc(10*time.Millisecond, cancel)
	_, err = io.ReadAll(resp.Body)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("stall: %v", err)
	}
}

func TestLatency(t *testing.T) {
	const ttft, itd = 30 * time.Millisecond, 3 * time.Millisecond
	p := newProvider(t, Options{TTFT: ttft, InterTokenDelay: itd, MinTokens: 8, MaxTokens: 8})

	start := time.Now()
	mustCall(t, p, chat, chatBody(""))
	if d := time.Since(start); d < ttft+7*itd {
		t.Fatalf("non-streamed answer after %v, want at least %v", d, ttft+7*itd)
	}

	start = time.Now()
	resp, err := p.Do(context.Background(), &providers.Request{Endpoint: chat, Body: []byte(chatBody(`"stream":true`)), Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := resp.Body.Read(make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < ttft {
		t.Fatalf("first byte after %v, want at least %v", d, ttft)
	}
	if _, err := io.ReadAll(resp.Body); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < ttft+7*itd {
		t.Fatalf("stream over after %v, want at least %v", d, ttft+7*itd)
	}

	start = time.Now()
	mustCall(t, p, embedE, `{"model":"e","input":"x","mock_latency_ms":60}`)
	if d := time.Since(start); d < 60*time.Millisecond {
		t.Fatalf("mock_latency_ms 60: answered after %v", d)
	}
}

func TestStreamCancel(t *testing.T) {
	p := newProvider(t, Options{InterTokenDelay: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, err := p.Do(ctx, &providers.Request{Endpoint: chat, Body: []byte(chatBody(`"stream":true`)), Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	// The role chunk and the first token need no wait.
	buf := make([]byte, 64<<10)
	if n, err := resp.Body.Read(buf); err != nil || !bytes.Contains(buf[:n], []byte(`"content":"Mock"`)) {
		t.Fatalf("first read: %v %s", err, buf[:n])
	}
	time.AfterFunc(10*time.Millisecond, cancel)
	if _, err := resp.Body.Read(buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: %v", err)
	}
	resp.Body.Close()

	// Closing the body releases a blocked Read too.
	resp, err = p.Do(context.Background(), &providers.Request{Endpoint: chat, Body: []byte(chatBody(`"stream":true`)), Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := resp.Body.Read(buf); err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(10*time.Millisecond, func() { resp.Body.Close() })
	if _, err := resp.Body.Read(buf); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}

	// A cancelled TTFT wait fails Do.
	slow := newProvider(t, Options{TTFT: time.Hour})
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel2)
	if _, err := slow.Do(ctx2, &providers.Request{Endpoint: chat, Body: []byte(chatBody(`"stream":true`)), Stream: true}); !errors.Is(err, context.Canceled) {
		t.Fatalf("ttft cancel: %v", err)
	}
}

func TestSmallReads(t *testing.T) {
	p := newProvider(t, Options{})
	want := mustCall(t, p, chat, chatBody(`"stream":true,"n":2`))
	resp, err := p.Do(context.Background(), &providers.Request{Endpoint: chat, Body: []byte(chatBody(`"stream":true,"n":2`)), Stream: true})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []byte
	one := make([]byte, 3)
	for {
		n, err := resp.Body.Read(one)
		got = append(got, one[:n]...)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatal("3-byte reads give other bytes")
	}
}

func TestFaultRate(t *testing.T) {
	run := func(o Options) (faults int, kinds map[int]int) {
		p := newProvider(t, o)
		kinds = map[int]int{}
		for range 400 {
			_, err := call(t, p, chat, chatBody(""))
			var pe *providers.Error
			switch {
			case err == nil:
			case errors.As(err, &pe):
				faults++
				kinds[pe.Status]++
			default:
				t.Fatal(err)
			}
		}
		if s := p.Stats(); s.Faults != uint64(faults) || s.Requests != 400 {
			t.Fatalf("stats %+v, %d faults", s, faults)
		}
		return faults, kinds
	}
	o := Options{FaultRate: 0.25, Faults: []string{"429", "500", "reset"}, Seed: 42}
	n1, k1 := run(o)
	n2, k2 := run(o)
	if n1 != n2 || k1[429] != k2[429] || k1[0] != k2[0] {
		t.Fatalf("same seed, different faults: %d %v / %d %v", n1, k1, n2, k2)
	}
	if n1 < 50 || n1 > 150 {
		t.Fatalf("%d faults in 400 at rate 0.25", n1)
	}
	if k1[429] == 0 || k1[500] == 0 || k1[0] == 0 {
		t.Fatalf("kinds %v: want 429, 500 and reset (0)", k1)
	}
	if n, _ := run(Options{}); n != 0 {
		t.Fatalf("%d faults at rate 0", n)
	}
}
