package semcache

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// keyBenchBody is a realistic chat request of about 1.5 KB.
const keyBenchBody = `{
  "model": "gpt-4o-mini",
  "messages": [
    {"role": "system", "content": "You are a concise assistant for a software company. Answer in plain English, cite documentation where you can, and never invent APIs. If you are unsure, say so and suggest where to look."},
    {"role": "user", "content": "How do I list the files in a directory in Go?"},
    {"role": "assistant", "content": "Use os.ReadDir(path): it returns a []os.DirEntry sorted by filename. For example:\n\n    entries, err := os.ReadDir(\".\")\n    if err != nil { log.Fatal(err) }\n    for _, e := range entries { fmt.Println(e.Name()) }"},
    {"role": "user", "content": [{"type": "text", "text": "And how do I walk a directory tree recursively, skipping hidden folders?"}]}
  ],
  "temperature": 0.2,
  "top_p": 1,
  "max_completion_tokens": 512,
  "stream": true,
  "stream_options": {"include_usage": true},
  "user": "end-user-4711",
  "metadata": {"team": "docs"},
  "tools": [{"type": "function", "function": {"name": "search_docs", "description": "Search the documentation", "parameters": {"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "integer", "minimum": 1, "maximum": 20}}, "required": ["query"]}}}],
  "tool_choice": "auto",
  "seed": 42
}`

func keyIn(body string) KeyInput {
	return KeyInput{Tenant: "acme", Model: "gpt-4o-mini", Endpoint: EndpointChat, Body: []byte(body)}
}

func mustKey(t *testing.T, in KeyInput) Key {
	t.Helper()
	k, err := MakeKey(in, KeyOptions{})
	if err != nil {
		t.Fatalf("MakeKey(%s): %v", in.Body, err)
	}
	return k
}

func chatBody(extra, prompt string) string {
	if extra != "" {
		extra = "," + extra
	}
	return `{"model":"m","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":` + prompt + `}]` + extra + `}`
}

func TestMakeKeyBasics(t *testing.T) {
	k := mustKey(t, keyIn(keyBenchBody))
	if len(k.Partition) != 32 || len(k.Exact) != 32 || strings.Trim(k.Partition+k.Exact, "0123456789abcdef") != "" {
		t.Fatalf("keys are not 32 hex digits: %q %q", k.Partition, k.Exact)
	}
	if k.Prompt != "And how do I walk a directory tree recursively, skipping hidden folders?" {
		t.Errorf("Prompt = %q", k.Prompt)
	}
	if k.Normalized != Normalize(k.Prompt) {
		t.Errorf("Normalized = %q", k.Normalized)
	}
	if !k.Semantic || !k.Deterministic || !k.Stream {
		t.Errorf("flags = semantic %v deterministic %v stream %v, want all true", k.Semantic, k.Deterministic, k.Stream)
	}
	// Same input, same key: nothing random or order-dependent.
	for range 20 {
		if k2 := mustKey(t, keyIn(keyBenchBody)); k2 != k {
			t.Fatalf("MakeKey is not deterministic: %+v vs %+v", k, k2)
		}
	}
}

// TestMakeKeyGolden pins the key of a fixed request. If it changes, cached
// entries written by earlier versions would be read under a different
// meaning or orphaned: bump keyFormat when the partition document changes,
// then update the values here.
func TestMakeKeyGolden(t *testing.T) {
	k := mustKey(t, keyIn(chatBody(`"temperature":0`, `"What is Go?"`)))
	const wantPart, wantExact = "da7c25f32b9cc9fb1beb6e3382b5a8c1", "b376c5037b67579797fb11c7f475a78d"
	if k.Partition != wantPart || k.Exact != wantExact {
		t.Errorf("golden key changed: partition %s exact %s", k.Partition, k.Exact)
	}
}

// The exact key folds only what cannot change the meaning: NFC, line
// endings, outer white space, and the one-text-part array form. Case,
// inner spacing and punctuation variants get their own exact keys (the
// verifier decides whether they may share an answer), in the same
// partition.
func TestMakeKeyExactIsLossless(t *testing.T) {
	base := mustKey(t, keyIn(chatBody("", `"What is Go?"`)))
	for _, p := range []string{
		`"  What is Go?\n"`, `"\r\nWhat is Go?"`, `[{"type":"text","text":"What is Go?"}]`,
	} {
		k := mustKey(t, keyIn(chatBody("", p)))
		if k.Exact != base.Exact || k.Partition != base.Partition {
			t.Errorf("prompt %s: key %s/%s, want %s/%s", p, k.Partition, k.Exact, base.Partition, base.Exact)
		}
	}
	for _, p := range []string{
		`"what is go?"`, `"WHAT IS GO?"`, `"What  is Go?"`, `"What is Go"`, `"\u201cWhat\u201d is Go?"`,
		`"What is Go\u00b2?"`, `"What is Go2?"`,
	} {
		k := mustKey(t, keyIn(chatBody("", p)))
		if k.Exact == base.Exact || k.Partition != base.Partition {
			t.Errorf("prompt %s: same exact key as %q, or another partition", p, "What is Go?")
		}
	}
	// NFC: a precomposed and a decomposed "é" are the same text.
	if a, b := mustKey(t, keyIn(chatBody("", `"caf\u00e9"`))), mustKey(t, keyIn(chatBody("", `"cafe\u0301"`))); a.Exact != b.Exact {
		t.Error("NFC forms key differently")
	}
	// Superscripts and ß are not folded (NFKC and case folding would).
	for _, pair := range [][2]string{{`"Solve x\u00b2 = 4"`, `"Solve x2 = 4"`}, {`"Was bedeutet Ma\u00dfe?"`, `"Was bedeutet Masse?"`}, {`"myVar"`, `"MyVar"`}} {
		if a, b := mustKey(t, keyIn(chatBody("", pair[0]))), mustKey(t, keyIn(chatBody("", pair[1]))); a.Exact == b.Exact {
			t.Errorf("%s and %s share an exact key", pair[0], pair[1])
		}
	}
	other := mustKey(t, keyIn(chatBody("", `"What is Rust?"`)))
	if other.Exact == base.Exact || other.Partition != base.Partition {
		t.Errorf("another prompt: same exact key or different partition")
	}
}

// Text parts are length-prefixed in the exact key: moving a word across a
// part boundary is another prompt.
func TestMakeKeyTextPartsUnambiguous(t *testing.T) {
	a := mustKey(t, keyIn(chatBody("", `[{"type":"text","text":"a\nb"},{"type":"text","text":"c"}]`)))
	b := mustKey(t, keyIn(chatBody("", `[{"type":"text","text":"a"},{"type":"text","text":"b\nc"}]`)))
	if a.Prompt != b.Prompt {
		t.Fatalf("prompts %q %q", a.Prompt, b.Prompt)
	}
	if a.Exact == b.Exact {
		t.Error(`["a\nb","c"] and ["a","b\nc"] share an exact key`)
	}
	c := mustKey(t, keyIn(chatBody("", `[{"type":"text","text":"a\nb"},{"type":"text","text":"c"}]`)))
	if c.Exact != a.Exact {
		t.Error("the same parts key differently")
	}
}

func TestMakeKeyIgnoresFieldsThatCannotChangeTheAnswer(t *testing.T) {
	base := mustKey(t, keyIn(chatBody("", `"hi"`)))
	for _, extra := range []string{
		`"stream":true`, `"stream":false`, `"stream":true,"stream_options":{"include_usage":true}`,
		`"user":"u1"`, `"store":true`, `"metadata":{"a":"b"}`, `"service_tier":"flex"`,
		`"safety_identifier":"x"`, `"prompt_cache_key":"k"`,
	} {
		k := mustKey(t, keyIn(chatBody(extra, `"hi"`)))
		if k.Exact != base.Exact || k.Partition != base.Partition {
			t.Errorf("%s changed the key", extra)
		}
	}
	if k := mustKey(t, keyIn(chatBody(`"stream":true`, `"hi"`))); !k.Stream {
		t.Error("Stream not reported")
	}
	// The body's model field is not used: the alias in KeyInput is.
	in := keyIn(strings.Replace(chatBody("", `"hi"`), `"model":"m"`, `"model":"other"`, 1))
	if k := mustKey(t, in); k.Partition != base.Partition {
		t.Error("body model changed the partition")
	}
}

func TestMakeKeyDefaultsEqualExplicitValues(t *testing.T) {
	groups := [][]string{
		{``, `"temperature":1`, `"temperature":1.0`, `"temperature":null`, `"top_p":1`, `"n":1`, `"n":1e0`,
			`"presence_penalty":0`, `"frequency_penalty":0.0`, `"logprobs":false`, `"parallel_tool_calls":true`,
			`"tool_choice":"none"`, `"seed":null`, `"stop":null`, `"max_tokens":null`, `"tools":null`},
		{`"temperature":0.7`, `"temperature":0.70`, `"temperature":7e-1`, `"temperature":70E-2`},
		{`"stop":"END"`, `"stop":["END"]`},
		{`"max_tokens":100`, `"max_completion_tokens":100`, `"max_tokens":100,"max_completion_tokens":1e2`},
		{`"tools":[{"type":"function","function":{"name":"f"}}]`, `"tools":[{"type":"function","function":{"name":"f"}}],"tool_choice":"auto"`},
	}
	for _, g := range groups {
		want := mustKey(t, keyIn(chatBody(g[0], `"hi"`)))
		for _, extra := range g[1:] {
			if k := mustKey(t, keyIn(chatBody(extra, `"hi"`))); k.Partition != want.Partition {
				t.Errorf("{%s} and {%s} key differently", extra, g[0])
			}
		}
	}
}

func TestMakeKeyPartitionFields(t *testing.T) {
	baseIn := keyIn(chatBody(`"temperature":0.7`, `"hi"`))
	base := mustKey(t, baseIn)
	mods := map[string]KeyInput{}
	with := func(name string, f func(*KeyInput)) {
		in := baseIn
		f(&in)
		mods[name] = in
	}
	with("tenant", func(in *KeyInput) { in.Tenant = "other" })
	with("model", func(in *KeyInput) { in.Model = "gpt-4o" })
	with("namespace", func(in *KeyInput) { in.Namespace = "ns" })
	with("endpoint", func(in *KeyInput) {
		in.Endpoint = EndpointCompletions
		in.Body = []byte(`{"prompt":"hi","temperature":0.7}`)
	})
	body := func(s string) func(*KeyInput) { return func(in *KeyInput) { in.Body = []byte(s) } }
	for name, extra := range map[string]string{
		"temperature 0.8":        `"temperature":0.8`,
		"temperature omitted":    ``,
		"top_p":                  `"temperature":0.7,"top_p":0.9`,
		"n":                      `"temperature":0.7,"n":2`,
		"presence_penalty":       `"temperature":0.7,"presence_penalty":0.5`,
		"frequency_penalty":      `"temperature":0.7,"frequency_penalty":0.5`,
		"max_tokens":             `"temperature":0.7,"max_tokens":10`,
		"max_tokens conflict":    `"temperature":0.7,"max_tokens":10,"max_completion_tokens":20`,
		"seed":                   `"temperature":0.7,"seed":1`,
		"stop":                   `"temperature":0.7,"stop":"x"`,
		"logit_bias":             `"temperature":0.7,"logit_bias":{"50256":-100}`,
		"logprobs":               `"temperature":0.7,"logprobs":true`,
		"top_logprobs":           `"temperature":0.7,"top_logprobs":2`,
		"response_format":        `"temperature":0.7,"response_format":{"type":"json_object"}`,
		"tools":                  `"temperature":0.7,"tools":[{"type":"function","function":{"name":"f"}}]`,
		"tool_choice":            `"temperature":0.7,"tool_choice":"required"`,
		"parallel_tool_calls":    `"temperature":0.7,"parallel_tool_calls":false`,
		"reasoning_effort":       `"temperature":0.7,"reasoning_effort":"high"`,
		"modalities":             `"temperature":0.7,"modalities":["text","audio"]`,
		"audio":                  `"temperature":0.7,"audio":{"voice":"alloy","format":"wav"}`,
		"prediction":             `"temperature":0.7,"prediction":{"type":"content","content":"x"}`,
		"unknown field":          `"temperature":0.7,"verbosity":"low"`,
		"unknown field null":     `"temperature":0.7,"x_future":null`,
		"unknown nested":         `"temperature":0.7,"web_search_options":{}`,
		"user is not the prompt": `"temperature":0.7,"functions":[{"name":"f"}]`,
	} {
		with(name, body(chatBody(extra, `"hi"`)))
	}
	sys := func(s string) string {
		return `{"messages":[{"role":"system","content":` + s + `},{"role":"user","content":"hi"}],"temperature":0.7}`
	}
	with("system prompt", body(sys(`"Be long."`)))
	with("system prompt whitespace", body(sys(`"Be brief. "`)))
	with("system prompt case", body(sys(`"be brief."`)))
	with("developer role", body(`{"messages":[{"role":"developer","content":"Be brief."},{"role":"user","content":"hi"}],"temperature":0.7}`))
	with("no system prompt", body(`{"messages":[{"role":"user","content":"hi"}],"temperature":0.7}`))
	with("history", body(`{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"hello"},{"role":"assistant","content":"Hi!"},{"role":"user","content":"hi"}],"temperature":0.7}`))
	with("user name", body(`{"messages":[{"role":"system","content":"Be brief."},{"role":"user","name":"bob","content":"hi"}],"temperature":0.7}`))
	with("system name", body(`{"messages":[{"role":"system","name":"x","content":"Be brief."},{"role":"user","content":"hi"}],"temperature":0.7}`))
	with("text parts", body(`{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"h"},{"type":"text","text":"i"}]}],"temperature":0.7}`))
	with("image", body(`{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"https://x/a.png"}}]}],"temperature":0.7}`))

	seen := map[string]string{base.Partition: "base"}
	for name, in := range mods {
		k := mustKey(t, in)
		if prev, dup := seen[k.Partition]; dup {
			t.Errorf("%s: same partition as %s", name, prev)
			continue
		}
		seen[k.Partition] = name
	}
}

func TestMakeKeyHistoryCanonicalForms(t *testing.T) {
	a := mustKey(t, keyIn(`{"messages":[{"role":"system","content":"S"},{"role":"user","content":"q1"},{"role":"assistant","content":"a1"},{"role":"user","content":"q2"}]}`))
	b := mustKey(t, keyIn(`{"messages":[{"content":[{"text":"S","type":"text"}],"role":"system"},{"role":"user","content":[{"type":"text","text":"q1"}]},{"content":"a1","role":"assistant"},{"role":"user","content":"q2"}]}`))
	if a.Partition != b.Partition || a.Exact != b.Exact {
		t.Error("a lone text part and a string key differently in history")
	}
	// History is verbatim: a formatting change in an earlier turn is a
	// different conversation.
	c := mustKey(t, keyIn(`{"messages":[{"role":"system","content":"S"},{"role":"user","content":"Q1"},{"role":"assistant","content":"a1"},{"role":"user","content":"q2"}]}`))
	if c.Partition == a.Partition {
		t.Error("history is normalized; it must be keyed verbatim")
	}
}

func TestMakeKeyLastMessage(t *testing.T) {
	// Parts are joined with "\n".
	k := mustKey(t, keyIn(`{"messages":[{"role":"user","content":[{"type":"text","text":"one"},{"type":"text","text":"two"}]}]}`))
	if k.Prompt != "one\ntwo" || !k.Semantic {
		t.Errorf("parts: prompt %q semantic %v", k.Prompt, k.Semantic)
	}
	// Non-text parts: keyed verbatim, exact only.
	img := func(url string) Key {
		return mustKey(t, keyIn(`{"messages":[{"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"`+url+`"}}]}]}`))
	}
	k1, k2 := img("https://x/1.png"), img("https://x/2.png")
	if k1.Semantic || k1.Prompt != "what is this?" {
		t.Errorf("image: prompt %q semantic %v", k1.Prompt, k1.Semantic)
	}
	if k1.Partition == k2.Partition || k1.Exact == k2.Exact {
		t.Error("different images share a key")
	}
	// Ending with an assistant prefill or a tool result: exact only, and the
	// whole conversation is the key.
	pre := func(last string) Key {
		return mustKey(t, keyIn(`{"messages":[{"role":"user","content":"Write a haiku"},`+last+`]}`))
	}
	p1 := pre(`{"role":"assistant","content":"Autumn"}`)
	p2 := pre(`{"role":"assistant","content":"autumn"}`)
	p3 := pre(`{"role":"tool","tool_call_id":"c1","content":"42"}`)
	if p1.Semantic || p1.Prompt != "" || p1.Normalized != "" {
		t.Errorf("prefill: %+v", p1)
	}
	if p1.Exact == p2.Exact || p1.Exact == p3.Exact {
		t.Error("conversations ending differently share an exact key")
	}
	// Tool calls in history are part of the partition.
	tc := func(args string) Key {
		return mustKey(t, keyIn(`{"messages":[{"role":"user","content":"weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"w","arguments":"`+args+`"}}]},{"role":"tool","tool_call_id":"c1","content":"sunny"},{"role":"user","content":"thanks, and tomorrow?"}]}`))
	}
	if tc(`{}`).Partition == tc(`{\"city\":\"x\"}`).Partition {
		t.Error("tool call arguments ignored")
	}
}

func TestMakeKeyMaxTurns(t *testing.T) {
	msgs := func(turns int) string {
		var b strings.Builder
		b.WriteString(`{"messages":[{"role":"system","content":"s"},{"role":"developer","content":"d"}`)
		for i := 1; i < turns; i++ {
			role := "user"
			if i%2 == 0 {
				role = "assistant"
			}
			fmt.Fprintf(&b, `,{"role":%q,"content":"m%d"}`, role, i)
		}
		b.WriteString(`,{"role":"user","content":"last"}]}`)
		return b.String()
	}
	for _, tc := range []struct {
		turns, max int
		semantic   bool
	}{{16, 0, true}, {17, 0, false}, {3, 3, true}, {4, 3, false}, {1, 1, true}} {
		k, err := MakeKey(keyIn(msgs(tc.turns)), KeyOptions{MaxTurns: tc.max})
		if err != nil {
			t.Fatal(err)
		}
		if k.Semantic != tc.semantic {
			t.Errorf("%d turns, max %d: semantic %v, want %v", tc.turns, tc.max, k.Semantic, tc.semantic)
		}
	}
	if (KeyOptions{MaxTurns: -1}).Validate() == nil || (KeyOptions{}).Validate() != nil {
		t.Error("Validate")
	}
}

func TestMakeKeyDeterministic(t *testing.T) {
	for extra, want := range map[string]bool{
		``: false, `"temperature":0`: true, `"temperature":0.0`: true, `"temperature":-0`: true,
		`"temperature":0.1`: false, `"seed":7`: true, `"seed":null`: false, `"temperature":null`: false,
	} {
		if k := mustKey(t, keyIn(chatBody(extra, `"hi"`))); k.Deterministic != want {
			t.Errorf("{%s}: deterministic %v, want %v", extra, k.Deterministic, want)
		}
	}
}

func TestMakeKeyCompletions(t *testing.T) {
	c := func(prompt string) Key {
		return mustKey(t, KeyInput{Tenant: "t", Model: "m", Endpoint: EndpointCompletions, Body: []byte(`{"model":"m","prompt":` + prompt + `,"max_tokens":16}`)})
	}
	s := c(`"Once upon a time"`)
	if s.Prompt != "Once upon a time" || !s.Semantic {
		t.Errorf("string prompt: %+v", s)
	}
	if one := c(`["Once upon a time"]`); one.Exact != s.Exact {
		t.Error("a one-string array keys differently from the string")
	}
	if v := c(`"Once upon a time "`); v.Exact != s.Exact {
		t.Error("trailing space keys differently")
	}
	batch1, batch2 := c(`["a b","c"]`), c(`["a","b c"]`)
	if batch1.Semantic || batch1.Prompt != "a b\nc" {
		t.Errorf("batch: %+v", batch1)
	}
	if batch1.Exact == batch2.Exact || batch1.Partition == batch2.Partition {
		t.Error("different batches share a key")
	}
	tok1, tok2 := c(`[1,2,3]`), c(`[1,2,4]`)
	if tok1.Semantic || tok1.Prompt != "" || tok1.Partition == tok2.Partition {
		t.Errorf("token prompts: %+v %+v", tok1, tok2)
	}
	if c(`[[1,2],[3]]`).Semantic {
		t.Error("token batch is semantic")
	}
	if c(`"x"`).Partition == c(`"x"`+`,"suffix":"y"`).Partition {
		t.Error("suffix ignored")
	}
	if c(`"x"`).Partition != c(`"x"`+`,"echo":false,"best_of":1`).Partition {
		t.Error("completions defaults not filled in")
	}
}

func TestMakeKeyErrors(t *testing.T) {
	for name, in := range map[string]KeyInput{
		"no tenant":       {Model: "m", Endpoint: EndpointChat, Body: []byte(`{"messages":[{"role":"user","content":"x"}]}`)},
		"no model":        {Tenant: "t", Endpoint: EndpointChat, Body: []byte(`{"messages":[{"role":"user","content":"x"}]}`)},
		"bad endpoint":    {Tenant: "t", Model: "m", Endpoint: "embeddings", Body: []byte(`{}`)},
		"not json":        keyIn(`{"messages":`),
		"array body":      keyIn(`[]`),
		"duplicate field": keyIn(`{"messages":[{"role":"user","content":"x"}],"temperature":0,"temperature":1}`),
		"no messages":     keyIn(`{}`),
		"empty messages":  keyIn(`{"messages":[]}`),
		"message string":  keyIn(`{"messages":["hi"]}`),
		"no role":         keyIn(`{"messages":[{"content":"hi"}]}`),
		"no content":      keyIn(`{"messages":[{"role":"user"}]}`),
		"number content":  keyIn(`{"messages":[{"role":"user","content":5}]}`),
		"bad text part":   keyIn(`{"messages":[{"role":"user","content":[{"type":"text","text":5}]}]}`),
		"bad prompt":      {Tenant: "t", Model: "m", Endpoint: EndpointCompletions, Body: []byte(`{"prompt":{}}`)},
		"lone surrogate":  keyIn(`{"messages":[{"role":"user","content":"\ud800"}]}`),
	} {
		if _, err := MakeKey(in, KeyOptions{}); !errors.Is(err, ErrBadRequest) {
			t.Errorf("%s: err = %v, want ErrBadRequest", name, err)
		}
	}
}

// keyShuffle re-writes a JSON document with its members in random order and
// random white space.
func keyShuffle(r *rand.Rand, d *cjDoc, n int32, b *strings.Builder) {
	ws := func() {
		for range r.IntN(2) {
			b.WriteByte(" \n\t"[r.IntN(3)])
		}
	}
	ws()
	nd := &d.nodes[n]
	switch nd.kind {
	case cjObj:
		kids := append([]int32(nil), d.elems(n)...)
		r.Shuffle(len(kids), func(i, j int) { kids[i], kids[j] = kids[j], kids[i] })
		b.WriteByte('{')
		for i, m := range kids {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(cjAppendString(nil, d.nodes[m].key))
			b.WriteByte(':')
			keyShuffle(r, d, m, b)
		}
		b.WriteByte('}')
	case cjArr:
		b.WriteByte('[')
		for i, m := range d.elems(n) {
			if i > 0 {
				b.WriteByte(',')
			}
			keyShuffle(r, d, m, b)
		}
		b.WriteByte(']')
	default:
		b.Write(d.appendNode(nil, n))
	}
	ws()
}

func FuzzMakeKeyMemberOrder(f *testing.F) {
	f.Add([]byte(keyBenchBody), uint64(1))
	f.Add([]byte(chatBody(`"temperature":0.7,"stop":["a","b"],"logit_bias":{"1":2,"3":4}`, `"hi"`)), uint64(2))
	f.Add([]byte(`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"u","detail":"low"}},{"type":"text","text":"x"}]}],"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"b":1,"a":2}}}}`), uint64(3))
	f.Fuzz(func(t *testing.T, body []byte, seed uint64) {
		in := keyIn(string(body))
		k1, err := MakeKey(in, KeyOptions{})
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		var d cjDoc
		root, err := d.parse(string(body))
		if err != nil {
			t.Fatalf("MakeKey accepted a body CanonicalJSON refuses: %v", err)
		}
		var b strings.Builder
		keyShuffle(rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), &d, root, &b)
		in.Body = []byte(b.String())
		k2, err := MakeKey(in, KeyOptions{})
		if err != nil {
			t.Fatalf("shuffled body refused: %v\n%s", err, b.String())
		}
		if k1 != k2 {
			t.Fatalf("member order changed the key:\n%s\n%s", body, b.String())
		}
	})
}

func BenchmarkMakeKey(b *testing.B) {
	in := keyIn(keyBenchBody)
	b.ReportAllocs()
	b.SetBytes(int64(len(in.Body)))
	for b.Loop() {
		if _, err := MakeKey(in, KeyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleMakeKey() {
	in := KeyInput{
		Tenant:   "default",
		Model:    "gpt-4o-mini",
		Endpoint: EndpointChat,
		Body:     []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"  What is Go?? "}],"stream":true}`),
	}
	k, err := MakeKey(in, KeyOptions{})
	if err != nil {
		panic(err)
	}
	in.Body = []byte(`{"messages":[{"role":"user","content":"what is go"}],"temperature":1.0,"model":"gpt-4o-mini"}`)
	k2, _ := MakeKey(in, KeyOptions{})
	in.Body = []byte(`{"messages":[{"role":"user","content":"What is Go??"}],"temperature":1.0,"model":"gpt-4o-mini"}`)
	k3, _ := MakeKey(in, KeyOptions{})
	fmt.Printf("%q %v %v %v %v\n", k.Normalized, k.Semantic, k.Stream, k.Exact == k2.Exact, k.Exact == k3.Exact)
	// Output: "what is go" true true false true
}

// TestMakeKeyPartitionDocumentIsCanonical checks that the document hashed
// into Partition is itself canonical JSON (members sorted at every level).
func TestMakeKeyPartitionDocumentIsCanonical(t *testing.T) {
	for _, in := range []KeyInput{
		keyIn(keyBenchBody),
		keyIn(`{"messages":[{"role":"user","content":"Write"},{"role":"assistant","content":"A"}],"zzz":1,"aaa":[2]}`),
		keyIn(`{"messages":[{"role":"user","name":"n","content":[{"type":"text","text":"a","z":1},{"type":"input_audio","input_audio":{"data":"x","format":"wav"}}]}]}`),
		{Tenant: "t", Model: "m", Endpoint: EndpointCompletions, Body: []byte(`{"prompt":["a","b"],"max_tokens":16,"stop":"x"}`)},
		{Tenant: "t", Model: "m", Endpoint: EndpointCompletions, Body: []byte(`{"prompt":"a"}`)},
	} {
		doc, err := keyPartitionDoc(in, KeyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := CanonicalJSON(doc)
		if err != nil {
			t.Fatalf("partition document is not JSON: %v\n%s", err, doc)
		}
		if string(c) != string(doc) {
			t.Errorf("partition document is not canonical:\n%s\n%s", doc, c)
		}
	}
}

func keyPartitionDoc(in KeyInput, o KeyOptions) ([]byte, error) {
	var st keyState
	var k Key
	b, _, err := st.build(in, o, &k)
	return b, err
}

func TestMakeKeyMemberOrderNeverMatters(t *testing.T) {
	bodies := []string{
		keyBenchBody,
		chatBody(`"temperature":0.7,"stop":["a","b"],"logit_bias":{"1":2,"3":4},"zzz":{"b":[{"y":1,"x":2}],"a":null}`, `[{"text":"hi","type":"text"}]`),
		`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"u","detail":"low"}},{"type":"text","text":"x"}]}],"response_format":{"type":"json_schema","json_schema":{"name":"n","schema":{"b":1,"a":2}}}}`,
	}
	for i, body := range bodies {
		want := mustKey(t, keyIn(body))
		var d cjDoc
		root, err := d.parse(body)
		if err != nil {
			t.Fatal(err)
		}
		for seed := range uint64(200) {
			var b strings.Builder
			keyShuffle(rand.New(rand.NewPCG(seed, uint64(i))), &d, root, &b)
			if got := mustKey(t, keyIn(b.String())); got != want {
				t.Fatalf("body %d, seed %d: member order changed the key:\n%s", i, seed, b.String())
			}
		}
	}
}

func TestMakeKeyDoesNotAliasTheBody(t *testing.T) {
	body := []byte(chatBody("", `"What is Go?"`))
	k := mustKey(t, KeyInput{Tenant: "t", Model: "m", Endpoint: EndpointChat, Body: body})
	for i := range body {
		body[i] = 'x'
	}
	if k.Prompt != "What is Go?" {
		t.Fatalf("Prompt changed with the caller's buffer: %q", k.Prompt)
	}
}

func TestMakeKeyConcurrent(t *testing.T) {
	bodies := []string{keyBenchBody, chatBody(`"temperature":0`, `"a"`), chatBody("", `"b"`)}
	want := make([]Key, len(bodies))
	for i, b := range bodies {
		want[i] = mustKey(t, keyIn(b))
	}
	done := make(chan error, 4)
	for g := range 4 {
		go func() {
			for n := range 200 {
				i := (g + n) % len(bodies)
				k, err := MakeKey(keyIn(bodies[i]), KeyOptions{})
				if err != nil || k != want[i] {
					done <- fmt.Errorf("goroutine %d: %+v, %v", g, k, err)
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
