package answer

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var chatChunks = []string{
	`{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt","system_fingerprint":"fp","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"ab"}`,
	`{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":"Hel"},"logprobs":{"content":[{"token":"Hel","logprob":-0.1,"bytes":[72,101,108],"top_logprobs":[]}],"refusal":null},"finish_reason":null}],"usage":null,"obfuscation":"c"}`,
	`{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt","system_fingerprint":"fp","choices":[{"index":0,"delta":{"content":"lo \"x\""},"logprobs":{"content":[{"token":"lo","logprob":-0.2,"bytes":[108,111],"top_logprobs":[]}],"refusal":null},"finish_reason":null}],"usage":null,"obfuscation":"defg"}`,
	`{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt","system_fingerprint":"fp","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null,"obfuscation":"h"}`,
	`{"id":"c1","object":"chat.completion.chunk","created":5,"model":"gpt","system_fingerprint":"fp","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,"prompt_tokens_details":{"cached_tokens":0}},"obfuscation":"ij"}`,
}

func bs(ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = []byte(s)
	}
	return out
}

func TestAssembleKeepsLogprobsAndUsage(t *testing.T) {
	got, err := Assemble(KindChat, bs(chatChunks))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"c1","object":"chat.completion","created":5,"model":"gpt","system_fingerprint":"fp","choices":[{"index":0,"message":{"role":"assistant","content":"Hello \"x\""},"logprobs":{"content":[{"token":"Hel","logprob":-0.1,"bytes":[72,101,108],"top_logprobs":[]},{"token":"lo","logprob":-0.2,"bytes":[108,111],"top_logprobs":[]}],"refusal":null},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,"prompt_tokens_details":{"cached_tokens":0}}}`
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if err := CheckSplit(KindChat, got); err != nil {
		t.Fatalf("the assembled answer does not stream back: %v", err)
	}
}

func TestAssembleToolCallsFragments(t *testing.T) {
	chunks := []string{
		`{"id":"c2","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]},"finish_reason":null}]}`,
		`{"id":"c2","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},"finish_reason":null}]}`,
		`{"id":"c2","created":1,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]},"finish_reason":null}]}`,
		`{"id":"c2","created":2,"model":"m","choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]},"finish_reason":null}]}`,
		`{"id":"c2","created":2,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`,
	}
	got, err := Assemble(KindChat, bs(chunks))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"c2","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]},"finish_reason":"tool_calls"}]}`
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if err := CheckSplit(KindChat, got); err != nil {
		t.Fatal(err)
	}
}

func TestAssembleRefusesWhatItCannotCarry(t *testing.T) {
	head := `{"id":"x","created":1,"model":"m","choices":[{"index":0,"delta":`
	tail := `,"finish_reason":null}]}`
	end := `{"id":"x","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`
	cases := map[string][]string{
		"streamed audio":           {head + `{"role":"assistant","audio":{"id":"a1","transcript":"hi"}}` + tail, end},
		"a field that changes":     {head + `{"role":"assistant","content":"a","x_custom":1}` + tail, head + `{"content":"b","x_custom":2}` + tail, end},
		"model changes":            {head + `{"role":"assistant","content":"a"}` + tail, strings.Replace(end, `"model":"m"`, `"model":"n"`, 1)},
		"content not a string":     {head + `{"role":"assistant","content":["a"]}` + tail, end},
		"tool call without index":  {head + `{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"{}"}}]}` + tail, end},
		"annotations not an array": {head + `{"role":"assistant","content":"a","annotations":{"a":1}}` + tail, end},
	}
	for name, chunks := range cases {
		t.Run(name, func(t *testing.T) {
			a := NewAssembler(KindChat)
			for _, c := range chunks {
				if err := a.Add([]byte(c)); err != nil {
					t.Fatal(err)
				}
			}
			if !a.Complete() {
				t.Fatal("a finished stream reported incomplete")
			}
			if out, err := a.Result(); !errors.Is(err, ErrLossy) {
				t.Fatalf("assembled %s (err %v)", out, err)
			}
		})
	}
	// The same unknown field sent twice with one value, or once, is kept.
	ok := []string{head + `{"role":"assistant","content":"a","x_custom":1}` + tail, head + `{"content":"b","x_custom":1}` + tail, end}
	out, err := Assemble(KindChat, bs(ok))
	if err != nil || !strings.Contains(string(out), `"content":"ab","x_custom":1`) {
		t.Fatalf("%s %v", out, err)
	}
}

func TestAssembleIncomplete(t *testing.T) {
	a := NewAssembler(KindChat)
	a.Add([]byte(chatChunks[1]))
	if _, err := a.Result(); !errors.Is(err, ErrIncomplete) {
		t.Fatalf("a stream without finish_reason assembled: %v", err)
	}
	if err := a.Add([]byte(`{bad`)); !errors.Is(err, ErrIncomplete) {
		t.Fatal(err)
	}
	if _, err := NewAssembler(KindChat).Result(); !errors.Is(err, ErrIncomplete) {
		t.Fatal("empty stream assembled")
	}
	two := NewAssembler(KindChat)
	two.Add([]byte(`{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]}`))
	two.Add([]byte(`{"choices":[{"index":1,"delta":{"content":"b"},"finish_reason":null}]}`))
	if two.Complete() {
		t.Fatal("n=2 with one unfinished choice reported complete")
	}
}

func TestCheckSplitRoundTrips(t *testing.T) {
	good := map[string]string{
		"text":          `{"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi","refusal":null,"annotations":[]},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2},"service_tier":"default","system_fingerprint":"fp"}`,
		"empty content": `{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"stop"}]}`,
		"function_call": `{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":null,"function_call":{"name":"f","arguments":"{\"a\":1}"}},"finish_reason":"function_call"}]}`,
		"refusal":       `{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":null,"refusal":"no"},"logprobs":{"content":null,"refusal":[{"token":"no","logprob":0,"bytes":[110,111],"top_logprobs":[]}]},"finish_reason":"stop"}]}`,
		"n=2":           `{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"a"},"finish_reason":"stop"},{"index":1,"message":{"role":"assistant","content":"b"},"finish_reason":"length"}]}`,
		"reasoning":     `{"id":"c","choices":[{"index":0,"message":{"role":"assistant","reasoning_content":"think","content":"a","tool_calls":[]},"logprobs":null,"finish_reason":"stop","stop_reason":null}],"prompt_logprobs":null}`,
		"unknown":       `{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"a","x":{"y":[1,2]}},"finish_reason":"stop","z":1}],"w":"v"}`,
		"escapes":       `{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"\u00e9\n\"<&>\"\ud83d\ude00"},"finish_reason":"stop"}]}`,
	}
	for name, body := range good {
		if err := CheckSplit(KindChat, []byte(body)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string]string{
		"audio":            `{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":null,"audio":{"id":"a","data":"UklG","expires_at":1,"transcript":"hi"}},"finish_reason":"stop"}]}`,
		"no finish_reason": `{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":"a"}}]}`,
		"content array":    `{"id":"c","choices":[{"index":0,"message":{"role":"assistant","content":[{"type":"text","text":"a"}]},"finish_reason":"stop"}]}`,
		"no choices":       `{"id":"c"}`,
	}
	for name, body := range bad {
		if err := CheckSplit(KindChat, []byte(body)); !errors.Is(err, ErrLossy) {
			t.Errorf("%s: converted (err %v)", name, err)
		}
	}
	comp := `{"id":"cmpl-1","object":"text_completion","created":2,"model":"m","choices":[{"text":"once upon","index":0,"logprobs":{"tokens":["once"," upon"],"token_logprobs":[-1,-2],"top_logprobs":[{"once":-1},{" upon":-2}],"text_offset":[5,9]},"finish_reason":"length"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`
	if err := CheckSplit(KindCompletions, []byte(comp)); err != nil {
		t.Fatal(err)
	}
}

func TestEventsUsageCut(t *testing.T) {
	cases := []struct{ in, without string }{
		{`{"id":"a","choices":[{"index":0}],"usage":null,"obfuscation":"x"}`, `{"id":"a","choices":[{"index":0}],"obfuscation":"x"}`},
		{`{"usage":null, "id":"a","choices":[{"index":0}]}`, `{"id":"a","choices":[{"index":0}]}`},
		{`{"id":"a","choices":[{"index":0}],"usage":{"total_tokens":3}}`, `{"id":"a","choices":[{"index":0}]}`},
		{`{"id":"a","choices":[{"index":0}]}`, `{"id":"a","choices":[{"index":0}]}`},
		{`{"id":"a","choices":[],"usage":{"total_tokens":3}}`, ``},
		{`{"id":"a","x":{"usage":1},"choices":[{"index":0}]}`, `{"id":"a","x":{"usage":1},"choices":[{"index":0}]}`},
	}
	var evs []Event
	for _, c := range cases {
		e := NewEvent([]byte(c.in))
		evs = append(evs, e)
		got := string(e.AppendSSE(nil, false))
		want := ""
		if c.without != "" {
			want = "data: " + c.without + "\n\n"
		}
		if got != want {
			t.Errorf("%s without usage: %q, want %q", c.in, got, want)
		}
		if got := string(e.AppendSSE(nil, true)); got != "data: "+c.in+"\n\n" {
			t.Errorf("with usage: %q", got)
		}
	}
	stored := EncodeEvents(evs)
	back, err := DecodeEvents(stored)
	if err != nil || len(back) != len(evs) {
		t.Fatal(err, len(back))
	}
	for i := range back {
		if !bytes.Equal(back[i].AppendSSE(nil, false), evs[i].AppendSSE(nil, false)) || string(back[i].Data) != cases[i].in {
			t.Fatalf("event %d changed in storage", i)
		}
	}
	for n := range len(stored) {
		if _, err := DecodeEvents(stored[:n]); err == nil && n > 0 {
			// A cut at an event boundary is a shorter valid list; anything
			// else must be reported, never panic.
			continue
		}
	}
}

func TestAppendStoredSSE(t *testing.T) {
	var evs []Event
	for _, c := range chatChunks {
		evs = append(evs, NewEvent([]byte(c)))
	}
	stored := EncodeEvents(evs)
	with, err := AppendStoredSSE(nil, stored, true)
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for _, c := range chatChunks {
		want.WriteString("data: " + c + "\n\n")
	}
	want.WriteString(Done)
	if string(with) != want.String() {
		t.Fatalf("stored stream not replayed as sent:\n%s", with)
	}
	without, _ := AppendStoredSSE(nil, stored, false)
	if bytes.Contains(without, []byte(`"usage"`)) || bytes.Count(without, []byte("data: ")) != len(chatChunks) {
		t.Fatalf("usage not stripped:\n%s", without)
	}
	js, err := AssembleStored(KindChat, stored)
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := Assemble(KindChat, bs(chatChunks))
	if !bytes.Equal(js, direct) {
		t.Fatal("AssembleStored differs from Assemble")
	}
}
