package mock

import (
	"strconv"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/semgate/semgate/providers"
)

// render appends the complete JSON answer to r and returns the length in
// tokens of its longest choice (0 for embeddings).
func (c *core) render(dst []byte, r *request) ([]byte, int) {
	switch r.endpoint {
	case providers.EndpointChat:
		return c.appendChat(dst, r)
	case providers.EndpointCompletions:
		return c.appendCompletion(dst, r)
	}
	return c.appendEmbeddings(dst, r), 0
}

// appendChat appends a chat.completion object.
func (c *core) appendChat(dst []byte, r *request) ([]byte, int) {
	dst = append(dst, `{"id":"chatcmpl-mock-`...)
	dst = appendHex(dst, r.hash, 16)
	dst = append(dst, `","object":"chat.completion","created":`...)
	dst = strconv.AppendInt(dst, Created, 10)
	dst = append(dst, `,"model":`...)
	dst = appendJSONString(dst, r.model)
	dst = append(dst, `,"choices":[`...)
	completion, longest := 0, 0
	for i := range r.n {
		if i > 0 {
			dst = append(dst, ',')
		}
		h := choiceHash(r.hash, i)
		dst = append(dst, `{"index":`...)
		dst = appendInt(dst, i)
		var tokens, pieces int
		var finish string
		if r.callsTool() {
			tc := r.toolCall(h, nil)
			dst = append(dst, `,"message":{"role":"assistant","content":null,"tool_calls":[`...)
			dst = tc.appendJSON(dst)
			dst = append(dst, `],"refusal":null,"annotations":[]}`...)
			tokens, pieces, finish = tc.tokens(), tc.fragments(), "tool_calls"
		} else {
			g := newTextGen(h, c.naturalLen(h), r.maxTokens)
			dst = append(dst, `,"message":{"role":"assistant","content":"`...)
			for !g.done() {
				dst = g.appendNext(dst)
			}
			dst = append(dst, `","refusal":null,"annotations":[]}`...)
			tokens, pieces, finish = g.limit, g.limit, g.finish()
		}
		dst = append(dst, `,"logprobs":null,"finish_reason":"`...)
		dst = append(dst, finish...)
		dst = append(dst, `"}`...)
		completion += tokens
		longest = max(longest, pieces)
	}
	dst = append(dst, `],"usage":`...)
	dst = appendChatUsage(dst, r.promptTokens, completion)
	dst = append(dst, `,"service_tier":"default","system_fingerprint":"`+SystemFingerprint+`"}`...)
	return dst, longest
}

// appendCompletion appends a text_completion object: n choices per prompt,
// choice j of prompt p at index p*n+j.
func (c *core) appendCompletion(dst []byte, r *request) ([]byte, int) {
	dst = append(dst, `{"id":"cmpl-mock-`...)
	dst = appendHex(dst, r.hash, 16)
	dst = append(dst, `","object":"text_completion","created":`...)
	dst = strconv.AppendInt(dst, Created, 10)
	dst = append(dst, `,"model":`...)
	dst = appendJSONString(dst, r.model)
	dst = append(dst, `,"choices":[`...)
	completion, longest := 0, 0
	for p, in := range r.inputs {
		for j := range r.n {
			if p+j > 0 {
				dst = append(dst, ',')
			}
			h := choiceHash(in.hash, j)
			g := newTextGen(h, c.naturalLen(h), r.maxTokens)
			dst = append(dst, `{"text":"`...)
			for !g.done() {
				dst = g.appendNext(dst)
			}
			dst = append(dst, `","index":`...)
			dst = appendInt(dst, p*r.n+j)
			dst = append(dst, `,"logprobs":null,"finish_reason":"`...)
			dst = append(dst, g.finish()...)
			dst = append(dst, `"}`...)
			completion += g.limit
			longest = max(longest, g.limit)
		}
	}
	dst = append(dst, `],"usage":`...)
	dst = appendUsage(dst, r.promptTokens, completion)
	dst = append(dst, `,"system_fingerprint":"`+SystemFingerprint+`"}`...)
	return dst, longest
}

// toolCall is a choice's call of a request's tool.
type toolCall struct {
	id   uint64
	name string
	args []byte // JSON object
}

// argFragment is the size in bytes of a streamed argument fragment.
const argFragment = 8

// toolCall builds the call for the choice seeded by h, appending the
// arguments to buf. The name aliases the request body.
func (r *request) toolCall(h uint64, buf []byte) toolCall {
	fn, _ := r.findTool(r.toolName) // "" finds the first tool
	rg := rng{s: h}
	return toolCall{
		id:   h,
		name: fn.Get("name").String(),
		args: appendArgs(buf, fn.Get("parameters"), &rg),
	}
}

// appendArgs appends a JSON object with a value for each required property
// of the JSON schema params, in the order "required" lists them.
func appendArgs(dst []byte, params gjson.Result, rg *rng) []byte {
	dst = append(dst, '{')
	props := params.Get("properties")
	first := true
	params.Get("required").ForEach(func(_, name gjson.Result) bool {
		if name.Type != gjson.String {
			return true
		}
		var prop gjson.Result
		props.ForEach(func(k, v gjson.Result) bool {
			if k.Str == name.Str {
				prop = v
				return false
			}
			return true
		})
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONString(dst, name.Str)
		dst = append(dst, ':')
		dst = appendValue(dst, prop, rg)
		return true
	})
	return append(dst, '}')
}

// appendValue appends a deterministic value valid for the JSON schema s
// (as far as its "enum" and "type" go).
func appendValue(dst []byte, s gjson.Result, rg *rng) []byte {
	if enum := s.Get("enum"); enum.IsArray() {
		vals := enum.Array()
		if len(vals) > 0 {
			return append(dst, vals[rg.intn(len(vals))].Raw...)
		}
	}
	typ := s.Get("type")
	if typ.IsArray() { // e.g. ["string", "null"]: the first non-null type
		var t gjson.Result
		typ.ForEach(func(_, v gjson.Result) bool {
			if v.Str != "null" {
				t = v
				return false
			}
			return true
		})
		typ = t
	}
	switch typ.Str {
	case "integer":
		return appendInt(dst, rg.intn(100))
	case "number":
		dst = appendInt(dst, rg.intn(100))
		return append(dst, '.', '5')
	case "boolean":
		if rg.next()&1 == 0 {
			return append(dst, "false"...)
		}
		return append(dst, "true"...)
	case "array":
		return append(dst, "[]"...)
	case "object":
		return append(dst, "{}"...)
	case "null":
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = append(dst, baseWords[rg.intn(len(baseWords))]...)
	dst = append(dst, words[rg.intn(len(words))]...)
	return append(dst, '"')
}

// appendJSON appends the call as an element of a message's tool_calls.
func (t *toolCall) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"id":"call_mock_`...)
	dst = appendHex(dst, t.id, 16)
	dst = append(dst, `","type":"function","function":{"name":`...)
	dst = appendJSONString(dst, t.name)
	dst = append(dst, `,"arguments":`...)
	dst = appendJSONString(dst, unsafeString(t.args))
	return append(dst, "}}"...)
}

// tokens is the call's length in completion tokens.
func (t *toolCall) tokens() int {
	return 3 + countTokens(t.name) + countTokens(unsafeString(t.args))
}

// fragment returns the end of the argument fragment starting at off: about
// argFragment bytes, never splitting a UTF-8 sequence.
func (t *toolCall) fragment(off int) int {
	end := min(off+argFragment, len(t.args))
	for end < len(t.args) && !utf8.RuneStart(t.args[end]) {
		end++
	}
	return end
}

// fragments is the number of argument fragments a stream sends.
func (t *toolCall) fragments() int {
	n := 0
	for off := 0; off < len(t.args); off = t.fragment(off) {
		n++
	}
	return n
}
