package gateway

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

func TestBadInput(t *testing.T) {
	ts := newTestServer(t, upstreamConfig(), nil)
	chat := ts.URL + "/v1/chat/completions"
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	deep := `{"model":"mock-small",` + msgs + `,"x":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`
	tests := []struct {
		name   string
		url    string
		body   string
		ctype  string
		status int
		param  string
	}{
		{"malformed json", chat, `{"model":`, "", 400, ""},
		{"trailing garbage", chat, `{"model":"mock-small",` + msgs + `} x`, "", 400, ""},
		{"not an object", chat, `[1,2]`, "", 400, ""},
		{"empty body", chat, ``, "", 400, ""},
		{"invalid utf8", chat, "{\"model\":\"mock-small\",\"messages\":[{\"role\":\"user\",\"content\":\"\xff\xfe\"}]}", "", 400, ""},
		{"missing model", chat, `{` + msgs + `}`, "", 400, "model"},
		{"model not string", chat, `{"model":5,` + msgs + `}`, "", 400, "model"},
		{"model empty", chat, `{"model":"",` + msgs + `}`, "", 400, "model"},
		{"duplicate model", chat, `{"model":"mock-small","model":"other",` + msgs + `}`, "", 400, "model"},
		{"missing messages", chat, `{"model":"mock-small"}`, "", 400, "messages"},
		{"messages not array", chat, `{"model":"mock-small","messages":"hi"}`, "", 400, "messages"},
		{"empty messages", chat, `{"model":"mock-small","messages":[]}`, "", 400, "messages"},
		{"message not object", chat, `{"model":"mock-small","messages":["hi"]}`, "", 400, "messages[0]"},
		{"role wrong type", chat, `{"model":"mock-small","messages":[{"role":5,"content":"hi"}]}`, "", 400, "messages[0].role"},
		{"role unknown", chat, `{"model":"mock-small","messages":[{"role":"wizard","content":"hi"}]}`, "", 400, "messages[0].role"},
		{"content missing", chat, `{"model":"mock-small","messages":[{"role":"user"}]}`, "", 400, "messages[0].content"},
		{"content wrong type", chat, `{"model":"mock-small","messages":[{"role":"user","content":7}]}`, "", 400, "messages[0].content"},
		{"content part without type", chat, `{"model":"mock-small","messages":[{"role":"user","content":[{"text":"x"}]}]}`, "", 400, "messages[0].content[0]"},
		{"tool without id", chat, `{"model":"mock-small","messages":[{"role":"tool","content":"x"}]}`, "", 400, "messages[0].tool_call_id"},
		{"temperature string", chat, `{"model":"mock-small",` + msgs + `,"temperature":"hot"}`, "", 400, "temperature"},
		{"temperature range", chat, `{"model":"mock-small",` + msgs + `,"temperature":3}`, "", 400, "temperature"},
		{"top_p range", chat, `{"model":"mock-small",` + msgs + `,"top_p":-0.1}`, "", 400, "top_p"},
		{"stream string", chat, `{"model":"mock-small",` + msgs + `,"stream":"yes"}`, "", 400, "stream"},
		{"stream_options without stream", chat, `{"model":"mock-small",` + msgs + `,"stream_options":{"include_usage":true}}`, "", 400, "stream_options"},
		{"include_usage wrong type", chat, `{"model":"mock-small",` + msgs + `,"stream":true,"stream_options":{"include_usage":1}}`, "", 400, "stream_options.include_usage"},
		{"n zero", chat, `{"model":"mock-small",` + msgs + `,"n":0}`, "", 400, "n"},
		{"max_tokens fraction", chat, `{"model":"mock-small",` + msgs + `,"max_tokens":1.5}`, "", 400, "max_tokens"},
		{"max_completion_tokens negative", chat, `{"model":"mock-small",` + msgs + `,"max_completion_tokens":-1}`, "", 400, "max_completion_tokens"},
		{"stop too many", chat, `{"model":"mock-small",` + msgs + `,"stop":["a","b","c","d","e"]}`, "", 400, "stop"},
		{"stop wrong type", chat, `{"model":"mock-small",` + msgs + `,"stop":5}`, "", 400, "stop"},
		{"tools not array", chat, `{"model":"mock-small",` + msgs + `,"tools":{}}`, "", 400, "tools"},
		{"tool without name", chat, `{"model":"mock-small",` + msgs + `,"tools":[{"type":"function","function":{}}]}`, "", 400, "tools[0].function.name"},
		{"response_format wrong", chat, `{"model":"mock-small",` + msgs + `,"response_format":"json"}`, "", 400, "response_format"},
		{"too deep", chat, deep, "", 400, ""},
		{"unknown model", chat, `{"model":"gpt-9",` + msgs + `}`, "", 404, "model"},
		{"wrong content type", chat, `{"model":"mock-small",` + msgs + `}`, "text/plain", 415, ""},
		{"form content type", chat, `model=x`, "application/x-www-form-urlencoded", 415, ""},
		{"completions without prompt", ts.URL + "/v1/completions", `{"model":"mock-small"}`, "", 400, "prompt"},
		{"completions prompt empty array", ts.URL + "/v1/completions", `{"model":"mock-small","prompt":[]}`, "", 400, "prompt"},
		{"embeddings without input", ts.URL + "/v1/embeddings", `{"model":"mock-small"}`, "", 400, "input"},
		{"embeddings empty input", ts.URL + "/v1/embeddings", `{"model":"mock-small","input":""}`, "", 400, "input"},
		{"embeddings bad format", ts.URL + "/v1/embeddings", `{"model":"mock-small","input":"x","encoding_format":"hex"}`, "", 400, "encoding_format"},
		{"embeddings bad dimensions", ts.URL + "/v1/embeddings", `{"model":"mock-small","input":"x","dimensions":0}`, "", 400, "dimensions"},
		{"unknown route", ts.URL + "/v1/chat/complete", `{}`, "", 404, ""},
		{"unknown root route", ts.URL + "/nope", `{}`, "", 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, tt.url, strings.NewReader(tt.body))
			ct := tt.ctype
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := readBody(t, resp)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			e := decodeError(t, body)
			got := ""
			if e.Param != nil {
				got = *e.Param
			}
			if got != tt.param {
				t.Fatalf("param %q, want %q (%s)", got, tt.param, e.Message)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Fatal("no x-request-id on an error")
			}
		})
	}
}

func TestUnknownModelListsKnown(t *testing.T) {
	ts := newTestServer(t, upstreamConfig("http://"+closedAddr(t)+"/v1"), nil)
	resp := post(t, ts.URL+"/v1/chat/completions", `{"model":"gpt-9","messages":[{"role":"user","content":"hi"}]}`)
	e := decodeError(t, readBody(t, resp))
	if resp.StatusCode != 404 || !strings.Contains(e.Message, "mock-small") || !strings.Contains(e.Message, "up") {
		t.Fatalf("%d %q", resp.StatusCode, e.Message)
	}
	if e.Code == nil || *e.Code != "model_not_found" {
		t.Fatalf("code %v", e.Code)
	}
}

func TestBodyLimit(t *testing.T) {
	ts := newTestServer(t, upstreamConfig()+"server:\n  max_body_bytes: 1000\n", nil)
	big := `{"model":"mock-small","messages":[{"role":"user","content":"` + strings.Repeat("a", 2000) + `"}]}`
	resp := post(t, ts.URL+"/v1/chat/completions", big)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
	decodeError(t, readBody(t, resp))

	// Without Content-Length (chunked), the limit still holds.
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/v1/chat/completions", struct{ *strings.Reader }{strings.NewReader(big)})
	req.Header.Set("Content-Type", "application/json")
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	if resp2.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked: status %d", resp2.StatusCode)
	}
}

func TestDefaultBodyLimitIs4MiB(t *testing.T) {
	ts := newTestServer(t, upstreamConfig(), nil)
	big := bytes.Repeat([]byte("a"), 4<<20)
	resp := post(t, ts.URL+"/v1/chat/completions", `{"model":"mock-small","messages":[{"role":"user","content":"`+string(big)+`"}]}`)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestWrongMethod(t *testing.T) {
	ts := newTestServer(t, upstreamConfig(), nil)
	for _, tc := range []struct{ method, path string }{
		{http.MethodGet, "/v1/chat/completions"},
		{http.MethodPut, "/v1/embeddings"},
		{http.MethodPost, "/v1/models"},
		{http.MethodDelete, "/healthz"},
	} {
		req, _ := http.NewRequest(tc.method, ts.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readBody(t, resp)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("%s %s: status %d", tc.method, tc.path, resp.StatusCode)
		}
		decodeError(t, body)
	}
}
