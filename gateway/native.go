package gateway

import (
	"bytes"
	"errors"
	"net/http"

	"github.com/semgate/semgate/providers"
	"github.com/semgate/semgate/providers/codec"
	"github.com/semgate/semgate/providers/route"
	"github.com/tidwall/gjson"
)

// Native pass-through. A front's request (/v1/messages, /v1/responses)
// runs through the chat pipeline as its chat translation, but an attempt
// whose deployment speaks the front's API (providers.Native) sends the
// client's own body instead, only "model" rewritten, and the client gets
// the upstream's answer byte for byte: nativeCall is the tee the provider
// writes the raw answer to, and the frontWriter relays those bytes instead
// of translating the chat form the provider returns alongside. The chat
// form still feeds the cache, coalesced followers and accounting; an
// answer holding content the chat form cannot carry (thinking blocks,
// server tool use, reasoning items) is neither stored nor shared, since a
// later hit would be a degraded answer. Usage and cost come from the
// native answer's usage, prompt-cache writes included.

// nativeCall is a front's request as the client sent it, and the state of
// the attempt passing it through.
type nativeCall struct {
	api    providers.API
	body   []byte      // the client's body
	alias  string      // "model" in body
	header http.Header // headers forwarded as sent
	f      *frontWriter
	// only, when not nil, says the request has no faithful chat form (why:
	// the codec's refusal): only deployments speaking its API may serve
	// it, and the cache is bypassed.
	only *codec.Error

	// The current attempt's state, reset by begin.
	on       bool   // the current attempt passes through
	stream   bool   // the answer streams
	raw      []byte // a JSON answer; a stream's bytes not yet relayed
	part     []byte // a stream's event being scanned
	lossy    bool   // the answer holds content chat cannot carry
	terminal bool   // the stream's terminal event arrived
	failed   bool   // the stream carried an error event
	final    []byte // Responses: the final response object of a stream
	seq      int64  // Responses: the sequence_number after the last event's
	usage    nativeUsage
}

// nativeUsage is a native answer's token counts.
type nativeUsage struct {
	known                         bool
	input, output, cached, writes int // input excludes cached and writes (Messages)
}

// newNativeCall prepares a front's request for pass-through. header holds
// the client's headers the API forwards.
func newNativeCall(api providers.API, body []byte, alias string, header http.Header, f *frontWriter) *nativeCall {
	n := &nativeCall{api: api, body: body, alias: alias, header: header, f: f}
	f.nat = n
	return n
}

// forwardHeaders returns the client's headers among names, or nil.
func forwardHeaders(h http.Header, names ...string) http.Header {
	var out http.Header
	for _, name := range names {
		if v := h.Values(name); len(v) > 0 {
			if out == nil {
				out = http.Header{}
			}
			out[http.CanonicalHeaderKey(name)] = v
		}
	}
	return out
}

// nativeFor returns the provider's native ability when the call can pass
// through to it.
func (n *nativeCall) nativeFor(p providers.Provider) (providers.Native, bool) {
	if n == nil {
		return nil, false
	}
	np, ok := p.(providers.Native)
	if !ok || !np.Speaks(n.api) {
		return nil, false
	}
	return np, true
}

// untranslatable prepares a request ToChat refused with ce (wrapping
// codec.ErrUnsupported) for deployments of its alias that speak its API:
// it returns the approximate chat form the pipeline keeps its books with
// (approx), or ok false when no deployment speaks the API, or the refusal
// is of another kind.
func (s *Server) untranslatable(n *nativeCall, r *http.Request, err error, approx func() ([]byte, error)) (chat []byte, ok bool) {
	var ce *codec.Error
	if !errors.As(err, &ce) || !errors.Is(err, codec.ErrUnsupported) {
		return nil, false
	}
	model, lerr := s.router.Lookup(n.alias)
	if lerr != nil {
		return nil, false
	}
	speaks := false
	for _, d := range model.Deployments {
		_, ok := n.nativeFor(d.Provider)
		speaks = speaks || ok
	}
	if !speaks {
		return nil, false
	}
	chat, aerr := approx()
	if aerr != nil {
		return nil, false
	}
	n.only = ce
	// The chat form is not the request: it must neither find nor store
	// answers.
	r.Header.Set(headerCache, "off")
	return chat, true
}

// narrow keeps, for a request only deployments speaking its API may
// serve, those of the plan; it fails with the codec's refusal as a 400
// when none is left.
func (n *nativeCall) narrow(plan *route.Plan) error {
	if n == nil || n.only == nil {
		return nil
	}
	if plan.KeepFor("native "+n.api.String()+" support", func(m *route.Member) bool { _, ok := n.nativeFor(m.Deployment.Provider); return ok }) {
		return nil
	}
	ce := n.only
	return &apiError{Status: http.StatusBadRequest, Type: typeInvalidRequest, Code: ce.Code, Param: ce.Param, Message: ce.Message}
}

// begin starts an attempt: on says whether it passes through.
func (n *nativeCall) begin(on, stream bool) {
	if n == nil {
		return
	}
	*n = nativeCall{api: n.api, body: n.body, alias: n.alias, header: n.header, f: n.f, only: n.only,
		on: on, stream: stream, raw: n.raw[:0], part: n.part[:0]}
}

// active reports whether the current attempt passes through.
func (n *nativeCall) active() bool { return n != nil && n.on }

// isLossy reports whether the passed-through answer holds content its
// chat form lacks.
func (n *nativeCall) isLossy() bool {
	if !n.active() {
		return false
	}
	if !n.stream && !n.lossy && len(n.raw) > 0 {
		n.scanJSON()
	}
	return n.lossy
}

// Write receives the upstream's raw answer as the provider reads it. A
// stream's bytes go to the client as soon as its headers are out (before,
// they wait: the attempt may still fail over). It never fails, so that a
// client gone does not break the read coalesced followers depend on.
func (n *nativeCall) Write(p []byte) (int, error) {
	if !n.stream {
		n.raw = append(n.raw, p...)
		return len(p), nil
	}
	n.scanStream(p)
	if n.f.streaming {
		n.f.writeRaw(p)
	} else {
		n.raw = append(n.raw, p...)
	}
	return len(p), nil
}

// scanStream reads the events completed by p: usage, lossy content, the
// end and errors.
func (n *nativeCall) scanStream(p []byte) {
	n.part = append(n.part, p...)
	for {
		i := bytes.Index(n.part, []byte("\n\n"))
		j := bytes.Index(n.part, []byte("\r\n\r\n"))
		size := 2
		if j >= 0 && (i < 0 || j < i) {
			i, size = j, 4
		}
		if i < 0 {
			return
		}
		n.event(n.part[:i])
		n.part = n.part[:copy(n.part, n.part[i+size:])]
	}
}

// event inspects one raw SSE event.
func (n *nativeCall) event(ev []byte) {
	var name, data []byte
	for line := range bytes.SplitSeq(ev, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if v, ok := bytes.CutPrefix(line, []byte("event:")); ok {
			name = bytes.TrimSpace(v)
		} else if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			data = append(data, bytes.TrimPrefix(v, []byte(" "))...)
		}
	}
	d := gjson.ParseBytes(data)
	typ := d.Get("type").Str
	if typ == "" {
		typ = string(name)
	}
	if typ == "error" {
		n.failed = true
		return
	}
	if s := d.Get("sequence_number"); s.Type == gjson.Number {
		n.seq = s.Int() + 1
	}
	if n.api == providers.APIMessages {
		n.messagesEvent(typ, d)
	} else {
		n.responsesEvent(typ, d)
	}
}

func (n *nativeCall) messagesEvent(typ string, d gjson.Result) {
	switch typ {
	case "message_start":
		n.messagesUsage(d.Get("message.usage"))
	case "content_block_start":
		n.lossy = n.lossy || !messagesBlockOK(d.Get("content_block"))
	case "content_block_delta":
		switch d.Get("delta.type").Str {
		case "text_delta", "input_json_delta":
		default: // thinking, signature and citations deltas
			n.lossy = true
		}
	case "message_delta":
		n.messagesUsage(d.Get("usage"))
	case "message_stop":
		n.terminal = true
	}
}

// messagesBlockOK reports whether a Messages content block has a chat
// equivalent: text without citations, client tool use.
func messagesBlockOK(b gjson.Result) bool {
	switch b.Get("type").Str {
	case "text":
		c := b.Get("citations")
		return !c.Exists() || c.Type == gjson.Null || (c.IsArray() && len(c.Array()) == 0)
	case "tool_use":
		return true
	}
	return false
}

// messagesUsage overwrites the counts present in a Messages usage object
// (message_delta carries cumulative totals).
func (n *nativeCall) messagesUsage(u gjson.Result) {
	if !u.IsObject() {
		return
	}
	n.usage.known = true
	for _, f := range [...]struct {
		key string
		dst *int
	}{
		{"input_tokens", &n.usage.input},
		{"output_tokens", &n.usage.output},
		{"cache_read_input_tokens", &n.usage.cached},
		{"cache_creation_input_tokens", &n.usage.writes},
	} {
		if v := u.Get(f.key); v.Type == gjson.Number {
			*f.dst = int(v.Int())
		}
	}
}

func (n *nativeCall) responsesEvent(typ string, d gjson.Result) {
	switch typ {
	case "response.output_item.added", "response.output_item.done":
		n.lossy = n.lossy || !responsesItemOK(d.Get("item"))
	case "response.content_part.added":
		n.lossy = n.lossy || !responsesPartOK(d.Get("part"))
	case "response.output_text.annotation.added":
		n.lossy = true
	case "response.completed", "response.incomplete", "response.failed":
		n.terminal = true
		r := d.Get("response")
		n.final = append(n.final[:0], r.Raw...)
		n.responsesUsage(r.Get("usage"))
		r.Get("output").ForEach(func(_, it gjson.Result) bool {
			n.lossy = n.lossy || !responsesItemOK(it)
			return true
		})
	}
}

// responsesItemOK reports whether a Responses output item has a chat
// equivalent: a message of output text and refusals, a function call.
func responsesItemOK(it gjson.Result) bool {
	switch it.Get("type").Str {
	case "function_call":
		return true
	case "message":
		ok := true
		it.Get("content").ForEach(func(_, p gjson.Result) bool {
			ok = responsesPartOK(p)
			return ok
		})
		return ok
	}
	return false
}

func responsesPartOK(p gjson.Result) bool {
	switch p.Get("type").Str {
	case "output_text":
		a := p.Get("annotations")
		return !a.Exists() || (a.IsArray() && len(a.Array()) == 0)
	case "refusal":
		return true
	}
	return false
}

func (n *nativeCall) responsesUsage(u gjson.Result) {
	if !u.IsObject() {
		return
	}
	cached := int(u.Get("input_tokens_details.cached_tokens").Int())
	n.usage = nativeUsage{known: true, input: int(u.Get("input_tokens").Int()) - cached,
		cached: cached, output: int(u.Get("output_tokens").Int())}
}

// scanJSON reads a whole JSON answer's usage and lossy content.
func (n *nativeCall) scanJSON() {
	d := gjson.ParseBytes(n.raw)
	if n.api == providers.APIMessages {
		n.messagesUsage(d.Get("usage"))
		d.Get("content").ForEach(func(_, b gjson.Result) bool {
			n.lossy = n.lossy || !messagesBlockOK(b)
			return true
		})
		return
	}
	n.responsesUsage(d.Get("usage"))
	d.Get("output").ForEach(func(_, it gjson.Result) bool {
		n.lossy = n.lossy || !responsesItemOK(it)
		return true
	})
}

// nativeUsage returns a passed-through answer's native usage, when it had
// one: prompt tokens include the prompt-cache reads and writes (writes is
// the latter).
func (n *nativeCall) nativeUsage() (u usage, writes int, ok bool) {
	if !n.active() {
		return usage{}, 0, false
	}
	if !n.stream && !n.usage.known {
		n.scanJSON()
	}
	if !n.usage.known {
		return usage{}, 0, false
	}
	nu := n.usage
	return usage{known: true, prompt: nu.input + nu.cached + nu.writes, cached: nu.cached, completion: nu.output}, nu.writes, true
}

// unshareable marks a flight whose answer must be neither stored nor
// served to followers; followers already streaming it get an error, the
// others go upstream themselves.
func (f *flight) unshareable() {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.tooBig {
		f.tooBig, f.events, f.asm = true, nil, nil
		f.broadcast()
	}
}
