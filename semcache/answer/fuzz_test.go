package answer

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// FuzzAnswer: any sequence of chunks (one per line) is stored and replayed
// byte for byte; without usage every replayed event is still valid JSON
// with no top-level usage; an assembled answer streams back into valid
// events; decoding arbitrary stored bytes never panics.
func FuzzAnswer(f *testing.F) {
	f.Add(strings.Join(chatChunks, "\n"), false)
	f.Add(`{"id":"a","choices":[{"index":0,"text":"x","logprobs":{"tokens":["x"]},"finish_reason":"stop"}],"usage":{"total_tokens":1}}`, true)
	f.Add(`{"usage":null,"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{"}}]},"finish_reason":"tool_calls"}]}`, false)
	f.Fuzz(func(t *testing.T, in string, completions bool) {
		kind := KindChat
		if completions {
			kind = KindCompletions
		}
		DecodeEvents([]byte(in))
		var evs []Event
		var chunks [][]byte
		for _, line := range strings.Split(in, "\n") {
			if line == "" || !json.Valid([]byte(line)) {
				continue
			}
			evs = append(evs, NewEvent([]byte(line)))
			chunks = append(chunks, []byte(line))
		}
		stored := EncodeEvents(evs)
		with, err := AppendStoredSSE(nil, stored, true)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		for _, c := range chunks {
			want.WriteString("data: ")
			want.Write(c)
			want.WriteString("\n\n")
		}
		want.WriteString(Done)
		if !bytes.Equal(with, want.Bytes()) {
			t.Fatalf("stored stream not replayed as sent")
		}
		without, _ := AppendStoredSSE(nil, stored, false)
		for _, line := range strings.Split(string(without), "\n") {
			d, ok := strings.CutPrefix(line, "data: ")
			if !ok || d == "[DONE]" {
				continue
			}
			if !json.Valid([]byte(d)) {
				t.Fatalf("event without usage is not JSON: %s", d)
			}
			if v := gjson.Parse(d); v.IsObject() && v.Get("usage").Exists() {
				t.Fatalf("usage left in %s", d)
			}
		}
		js, err := Assemble(kind, chunks)
		if err != nil {
			return
		}
		if !json.Valid(js) {
			t.Fatalf("assembled invalid JSON %s", js)
		}
		sse, err := AppendStreamSSE(nil, kind, js, true)
		if err != nil {
			return
		}
		for _, line := range strings.Split(string(sse), "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok && d != "[DONE]" && !json.Valid([]byte(d)) {
				t.Fatalf("split produced invalid JSON %s from %s", d, js)
			}
		}
		CheckSplit(kind, js)
	})
}
