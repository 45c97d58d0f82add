package semcache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/semgate/semgate/semcache/verify"
)

// ErrBadRequest is returned (wrapped with the detail) by MakeKey for a
// request it cannot key; such a request bypasses the cache.
var ErrBadRequest = errors.New("semcache: request cannot be keyed")

// keyFormat versions the partition document: change it whenever the
// document's layout or a default changes, so old entries are not reused
// under a different meaning.
const keyFormat = "2"

// keyDefaultMaxTurns is KeyOptions.MaxTurns' default.
const keyDefaultMaxTurns = 16

// Endpoints MakeKey accepts in KeyInput.Endpoint.
const (
	EndpointChat        = "chat"
	EndpointCompletions = "completions"
)

// KeyInput is a request to key: the client's body plus the context that
// must match for a cached answer to be reused.
type KeyInput struct {
	// Tenant is the tenant from the API key; "default" when auth is off.
	// Required.
	Tenant string
	// Model is the public model alias the request resolved to. Required;
	// the body's own "model" field is not used.
	Model string
	// Namespace is the optional x-semgate-cache-namespace.
	Namespace string
	// Endpoint is EndpointChat or EndpointCompletions.
	Endpoint string
	// Body is the client's JSON body, a JSON object.
	Body []byte
}

// KeyOptions tunes MakeKey. The zero value means defaults.
type KeyOptions struct {
	// MaxTurns: conversations with more messages than this, not counting
	// system and developer messages, skip the semantic tier (the exact tier
	// still applies). Default (0 or less): 16.
	MaxTurns int
	// MaxSemanticBytes: prompts longer than this, in bytes, skip the
	// semantic tier (the exact tier still applies): verifying a
	// near-duplicate costs time linear in the prompt, and a miss only
	// costs an upstream call. Default (0 or less): 256 KiB.
	MaxSemanticBytes int
}

// keyDefaultMaxSemanticBytes is KeyOptions.MaxSemanticBytes' default.
const keyDefaultMaxSemanticBytes = 256 << 10

// Validate reports every problem at once.
func (o KeyOptions) Validate() error {
	var errs []error
	if o.MaxTurns < 0 {
		errs = append(errs, errors.New("max_turns: must not be negative"))
	}
	if o.MaxSemanticBytes < 0 {
		errs = append(errs, errors.New("max_semantic_bytes: must not be negative"))
	}
	return errors.Join(errs...)
}

// Key is how a request is found in the cache.
type Key struct {
	// Partition is the hex SHA-256 (first 128 bits, 32 hex digits) of the
	// canonical document of everything that must match exactly for an
	// answer to be reusable: tenant, model alias, endpoint, namespace,
	// every parameter that can change the answer (API defaults filled in,
	// unknown fields included), the system/developer messages and the
	// conversation before the last user message, and the format of the
	// last message without its text. Semantic lookups stay inside one
	// partition.
	Partition string
	// Exact is the hex hash (32 hex digits) of Partition, the text parts'
	// lengths and verify.Lossless(Prompt): only transformations that cannot
	// change the meaning are folded.
	Exact string
	// Prompt is the last user message's text as sent (text parts joined
	// with "\n"); for completions, the prompt. Empty when the request does
	// not end with a user message.
	Prompt string
	// Normalized is Normalize(Prompt), the text embedded for the semantic
	// tier (case, spacing and punctuation folded so formatting variants get
	// one vector); it is not the exact key.
	Normalized string
	// Semantic reports whether the request may use the semantic tier: it
	// ends with a user message of text only, is no longer than MaxTurns,
	// and has a non-empty prompt.
	Semantic bool
	// Deterministic reports temperature 0 or a seed.
	Deterministic bool
	// Stream reports that the client asked for a stream. It is not part of
	// the key: streamed and non-streamed requests share entries.
	Stream bool
}

// keyExcluded are top-level fields that cannot change the answer: they are
// left out of the partition. "safety_identifier" is the successor of
// "user" and "prompt_cache_key" a provider-side caching hint.
var keyExcluded = map[string]bool{
	"stream": true, "stream_options": true, "user": true, "store": true,
	"metadata": true, "service_tier": true, "safety_identifier": true,
	"prompt_cache_key": true,
}

// keyNullable are known parameters for which null means the same as
// absent (the API's default).
var keyNullable = map[string]bool{
	"temperature": true, "top_p": true, "n": true, "presence_penalty": true,
	"frequency_penalty": true, "seed": true, "stop": true, "logit_bias": true,
	"logprobs": true, "top_logprobs": true, "response_format": true,
	"tools": true, "tool_choice": true, "parallel_tool_calls": true,
	"reasoning_effort": true, "modalities": true, "audio": true,
	"prediction": true, "max_tokens": true, "max_completion_tokens": true,
	"echo": true, "best_of": true, "suffix": true, "verbosity": true,
	"web_search_options": true, "functions": true, "function_call": true,
}

type keyDefault struct{ name, lit string }

// API defaults, filled in when a parameter is absent or null.
var (
	keyDefaultsCommon = []keyDefault{
		{"frequency_penalty", "0"}, {"n", "1"}, {"presence_penalty", "0"},
		{"temperature", "1"}, {"top_p", "1"},
	}
	keyDefaultsChat        = []keyDefault{{"logprobs", "false"}, {"parallel_tool_calls", "true"}}
	keyDefaultsCompletions = []keyDefault{{"best_of", "1"}, {"echo", "false"}}
)

// keyParam is one member of the partition's "params" object: a node of the
// body, or a canonical literal when node < 0.
type keyParam struct {
	name string
	node int32
	lit  string
	wrap bool // emit the node inside a one-element array (stop: "x" = ["x"])
}

type keyState struct {
	doc      cjDoc
	buf      []byte
	params   []keyParam
	partLens []int // lengths of the last message's text parts, when an array
}

var keyStatePool = sync.Pool{New: func() any { return new(keyState) }}

func keyErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadRequest, fmt.Sprintf(format, args...))
}

// MakeKey computes the cache key of a chat or completions request. An error
// wraps ErrBadRequest; the request should then bypass the cache.
func MakeKey(in KeyInput, o KeyOptions) (Key, error) {
	var k Key
	if in.Tenant == "" {
		return k, keyErr("empty tenant")
	}
	if in.Model == "" {
		return k, keyErr("empty model")
	}
	if in.Endpoint != EndpointChat && in.Endpoint != EndpointCompletions {
		return k, keyErr("unknown endpoint %q", in.Endpoint)
	}
	st := keyStatePool.Get().(*keyState)
	defer st.release()
	b, semantic, err := st.build(in, o, &k)
	if err != nil {
		return k, err
	}
	sum := sha256.Sum256(b)
	k.Partition = hex.EncodeToString(sum[:16])
	maxSem := o.MaxSemanticBytes
	if maxSem <= 0 {
		maxSem = keyDefaultMaxSemanticBytes
	}
	if len(k.Prompt) > maxSem {
		semantic = false // exact tier only; nothing to embed
	} else {
		k.Normalized = Normalize(k.Prompt)
	}
	k.Semantic = semantic && k.Normalized != ""

	// The exact key: partition, the length of each text part when the
	// prompt was sent in several (so ["a b","c"] and ["a","b c"] differ),
	// and the prompt after only lossless transformations (verify.Lossless:
	// NFC, line endings, outer white space). Case, inner spacing and
	// punctuation variants are left to the verifier.
	b = append(b[:0], "semgate-exact\x00"...)
	b = append(b, k.Partition...)
	b = append(b, 0)
	b = binary.AppendUvarint(b, uint64(len(st.partLens)))
	for _, n := range st.partLens {
		b = binary.AppendUvarint(b, uint64(n))
	}
	b = append(b, verify.Lossless(k.Prompt)...)
	sum = sha256.Sum256(b)
	k.Exact = hex.EncodeToString(sum[:16])
	st.buf = b
	return k, nil
}

// build writes the partition document (canonical JSON) into st.buf and
// returns it, with whether the request may use the semantic tier; it sets
// k.Prompt, k.Stream and k.Deterministic.
func (st *keyState) build(in KeyInput, o KeyOptions, k *Key) ([]byte, bool, error) {
	d := &st.doc
	root, err := d.parse(string(in.Body))
	if err != nil {
		return nil, false, fmt.Errorf("%w: body: %w", ErrBadRequest, err)
	}
	if d.nodes[root].kind != cjObj {
		return nil, false, keyErr("body is not a JSON object")
	}
	chat := in.Endpoint == EndpointChat
	if err := st.collectParams(root, chat, k); err != nil {
		return nil, false, err
	}

	b := st.buf[:0]
	b = append(b, `{"endpoint":`...)
	b = cjAppendString(b, in.Endpoint)
	b = append(b, `,"format":`+keyFormat...)
	// Members in sorted order: endpoint, format, last, messages, model,
	// namespace, params, prompt, tenant.
	semantic := true
	if chat {
		if b, err = st.appendChat(b, root, o, k, &semantic); err != nil {
			return nil, false, err
		}
	}
	b = append(b, `,"model":`...)
	b = cjAppendString(b, in.Model)
	b = append(b, `,"namespace":`...)
	b = cjAppendString(b, in.Namespace)
	b = append(b, `,"params":`...)
	b = st.appendParams(b)
	if !chat {
		if b, err = st.appendCompletions(b, root, k, &semantic); err != nil {
			return nil, false, err
		}
	}
	b = append(b, `,"tenant":`...)
	b = cjAppendString(b, in.Tenant)
	b = append(b, '}')

	st.buf = b
	return b, semantic, nil
}

func (st *keyState) release() {
	if cap(st.buf) > 256<<10 || cap(st.doc.nodes) > 16<<10 {
		return // let an outsized state go
	}
	clear(st.doc.nodes) // drop references to the body
	clear(st.params)
	st.doc.reset()
	st.params = st.params[:0]
	st.partLens = st.partLens[:0]
	keyStatePool.Put(st)
}

// collectParams gathers the "params" members: every top-level field except
// the excluded ones, the model, and the prompt or messages (keyed
// separately), with API defaults filled in.
func (st *keyState) collectParams(root int32, chat bool, k *Key) error {
	d := &st.doc
	ps := st.params[:0]
	var maxTok, maxCompl, toolChoice, tools int32 = -1, -1, -1, -1
	for _, m := range d.elems(root) {
		nd := &d.nodes[m]
		name := nd.key
		switch {
		case name == "model":
			continue
		case chat && name == "messages", !chat && name == "prompt":
			continue
		case name == "stream":
			k.Stream = nd.kind == cjTrue
			continue
		case keyExcluded[name]:
			continue
		}
		if nd.kind == cjNull && keyNullable[name] {
			continue
		}
		switch name {
		case "max_tokens":
			maxTok = m
			continue
		case "max_completion_tokens":
			maxCompl = m
			continue
		case "tool_choice":
			toolChoice = m
			continue
		case "tools":
			tools = m
		case "temperature":
			if nd.kind == cjNum && nd.s == "0" {
				k.Deterministic = true
			}
		case "seed":
			k.Deterministic = true
		}
		ps = append(ps, keyParam{name: name, node: m, wrap: name == "stop" && nd.kind == cjStr})
	}
	// max_tokens and max_completion_tokens are one limit.
	switch {
	case maxTok >= 0 && maxCompl >= 0:
		a := d.appendNode(nil, maxTok)
		c := d.appendNode(nil, maxCompl)
		if string(a) == string(c) {
			ps = append(ps, keyParam{name: "max_tokens", node: maxTok})
		} else {
			lit := "[" + string(a) + "," + string(c) + "]"
			ps = append(ps, keyParam{name: "max_tokens", node: -1, lit: lit})
		}
	case maxTok >= 0:
		ps = append(ps, keyParam{name: "max_tokens", node: maxTok})
	case maxCompl >= 0:
		ps = append(ps, keyParam{name: "max_tokens", node: maxCompl})
	}
	if chat {
		switch {
		case toolChoice >= 0:
			ps = append(ps, keyParam{name: "tool_choice", node: toolChoice})
		case tools >= 0:
			ps = append(ps, keyParam{name: "tool_choice", node: -1, lit: `"auto"`})
		default:
			ps = append(ps, keyParam{name: "tool_choice", node: -1, lit: `"none"`})
		}
	} else if toolChoice >= 0 {
		ps = append(ps, keyParam{name: "tool_choice", node: toolChoice})
	}
	ps = keyAddDefaults(ps, keyDefaultsCommon)
	if chat {
		ps = keyAddDefaults(ps, keyDefaultsChat)
	} else {
		ps = keyAddDefaults(ps, keyDefaultsCompletions)
	}
	// Sort by name (names are unique: the body has no duplicate members
	// and defaults are only added for absent names).
	for a := 1; a < len(ps); a++ {
		for b := a; b > 0 && ps[b].name < ps[b-1].name; b-- {
			ps[b], ps[b-1] = ps[b-1], ps[b]
		}
	}
	st.params = ps
	return nil
}

func keyAddDefaults(ps []keyParam, defs []keyDefault) []keyParam {
	n := len(ps)
outer:
	for _, def := range defs {
		for _, p := range ps[:n] {
			if p.name == def.name {
				continue outer
			}
		}
		ps = append(ps, keyParam{name: def.name, node: -1, lit: def.lit})
	}
	return ps
}

func (st *keyState) appendParams(b []byte) []byte {
	b = append(b, '{')
	for i, p := range st.params {
		if i > 0 {
			b = append(b, ',')
		}
		b = cjAppendString(b, p.name)
		b = append(b, ':')
		switch {
		case p.node < 0:
			b = append(b, p.lit...)
		case p.wrap:
			b = append(b, '[')
			b = st.doc.appendNode(b, p.node)
			b = append(b, ']')
		default:
			b = st.doc.appendNode(b, p.node)
		}
	}
	return append(b, '}')
}

// appendChat appends the "last" and "messages" members for a chat request
// and sets k.Prompt.
func (st *keyState) appendChat(b []byte, root int32, o KeyOptions, k *Key, semantic *bool) ([]byte, error) {
	d := &st.doc
	msgs := d.child(root, "messages")
	if msgs < 0 || d.nodes[msgs].kind != cjArr || d.nodes[msgs].n == 0 {
		return b, keyErr("messages: must be a non-empty array")
	}
	list := d.elems(msgs)
	turns := 0
	for i, m := range list {
		if d.nodes[m].kind != cjObj {
			return b, keyErr("messages[%d]: not an object", i)
		}
		role := d.child(m, "role")
		if role < 0 || d.nodes[role].kind != cjStr {
			return b, keyErr("messages[%d].role: must be a string", i)
		}
		if r := d.nodes[role].s; r != "system" && r != "developer" {
			turns++
		}
	}
	maxTurns := o.MaxTurns
	if maxTurns <= 0 {
		maxTurns = keyDefaultMaxTurns
	}
	if turns > maxTurns {
		*semantic = false
	}
	last := list[len(list)-1]
	history := list
	b = append(b, `,"last":`...)
	if d.nodes[d.child(last, "role")].s == "user" {
		history = list[:len(list)-1]
		var err error
		b, err = st.appendLastUser(b, last, k, semantic)
		if err != nil {
			return b, err
		}
	} else {
		// Assistant prefill, tool result...: the whole conversation is
		// keyed verbatim and only the exact tier applies.
		*semantic = false
		b = append(b, "null"...)
	}
	b = append(b, `,"messages":[`...)
	for i, m := range history {
		if i > 0 {
			b = append(b, ',')
		}
		b = st.appendMessage(b, m)
	}
	return append(b, ']'), nil
}

// keyPlainText returns the text of content node c when it is one text
// part with nothing else ([{"type":"text","text":"..."}]), which the API
// treats as the string itself.
func (st *keyState) keyPlainText(c int32) (string, bool) {
	d := &st.doc
	if d.nodes[c].kind != cjArr || d.nodes[c].n != 1 {
		return "", false
	}
	p := d.kids[d.nodes[c].first]
	if d.nodes[p].kind != cjObj || d.nodes[p].n != 2 {
		return "", false
	}
	t, ty := d.child(p, "text"), d.child(p, "type")
	if t < 0 || ty < 0 || d.nodes[t].kind != cjStr || d.nodes[ty].kind != cjStr || d.nodes[ty].s != "text" {
		return "", false
	}
	return d.nodes[t].s, true
}

// appendMessage appends a history message canonically, its content in
// canonical form (a lone plain text part is the string).
func (st *keyState) appendMessage(b []byte, m int32) []byte {
	d := &st.doc
	b = append(b, '{')
	for i, f := range d.elems(m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = cjAppendString(b, d.nodes[f].key)
		b = append(b, ':')
		if d.nodes[f].key == "content" {
			if s, ok := st.keyPlainText(f); ok {
				b = cjAppendString(b, s)
				continue
			}
		}
		b = d.appendNode(b, f)
	}
	return append(b, '}')
}

// appendLastUser appends the shape of the last user message: its members
// with the text taken out of its content ("<text>" for a string or a lone
// plain text part; in a parts array, text parts without their "text" and
// other parts verbatim), and sets k.Prompt to the text.
func (st *keyState) appendLastUser(b []byte, m int32, k *Key, semantic *bool) ([]byte, error) {
	d := &st.doc
	c := d.child(m, "content")
	if c < 0 {
		return b, keyErr("last user message: no content")
	}
	b = append(b, '{')
	for i, f := range d.elems(m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = cjAppendString(b, d.nodes[f].key)
		b = append(b, ':')
		if f != c {
			b = d.appendNode(b, f)
			continue
		}
		if s, ok := st.keyPlainText(c); ok {
			k.Prompt = strings.Clone(s)
			b = append(b, `"<text>"`...)
			continue
		}
		switch d.nodes[c].kind {
		case cjStr:
			k.Prompt = strings.Clone(d.nodes[c].s)
			b = append(b, `"<text>"`...)
		case cjArr:
			var err error
			if b, err = st.appendParts(b, c, k, semantic); err != nil {
				return b, err
			}
		default:
			return b, keyErr("last user message: content must be a string or an array")
		}
	}
	return append(b, '}'), nil
}

// appendParts appends the shape of a content parts array and joins its
// text parts into k.Prompt. Any part that is not text (image, audio,
// file...) is keyed verbatim and rules out the semantic tier.
func (st *keyState) appendParts(b []byte, c int32, k *Key, semantic *bool) ([]byte, error) {
	d := &st.doc
	var text strings.Builder
	ntext := 0
	b = append(b, '[')
	for i, p := range d.elems(c) {
		if i > 0 {
			b = append(b, ',')
		}
		ty := d.child(p, "type")
		if ty < 0 || d.nodes[ty].kind != cjStr || d.nodes[ty].s != "text" {
			*semantic = false
			b = d.appendNode(b, p)
			continue
		}
		t := d.child(p, "text")
		if t < 0 || d.nodes[t].kind != cjStr {
			return b, keyErr("last user message: content[%d].text must be a string", i)
		}
		if ntext > 0 {
			text.WriteByte('\n')
		}
		text.WriteString(d.nodes[t].s)
		st.partLens = append(st.partLens, len(d.nodes[t].s))
		ntext++
		b = append(b, '{')
		first := true
		for _, f := range d.elems(p) {
			if f == t {
				continue
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = cjAppendString(b, d.nodes[f].key)
			b = append(b, ':')
			b = d.appendNode(b, f)
		}
		b = append(b, '}')
	}
	if ntext == 0 {
		*semantic = false
	}
	k.Prompt = text.String()
	return append(b, ']'), nil
}

// appendCompletions appends the "prompt" member for a completions request
// and sets k.Prompt. A string (or a one-string array) is the prompt; an
// array of several strings is a batch, keyed verbatim and exact-only; token
// arrays are keyed verbatim and exact-only.
func (st *keyState) appendCompletions(b []byte, root int32, k *Key, semantic *bool) ([]byte, error) {
	d := &st.doc
	b = append(b, `,"prompt":`...)
	p := d.child(root, "prompt")
	if p < 0 || d.nodes[p].kind == cjNull {
		*semantic = false
		return append(b, "null"...), nil
	}
	switch d.nodes[p].kind {
	case cjStr:
		k.Prompt = strings.Clone(d.nodes[p].s)
		return append(b, `"<text>"`...), nil
	case cjArr:
		els := d.elems(p)
		allStr := true
		for _, e := range els {
			if d.nodes[e].kind != cjStr {
				allStr = false
				break
			}
		}
		if allStr && len(els) == 1 {
			k.Prompt = strings.Clone(d.nodes[els[0]].s)
			return append(b, `"<text>"`...), nil
		}
		*semantic = false
		if allStr {
			parts := make([]string, len(els))
			for i, e := range els {
				parts[i] = d.nodes[e].s
			}
			k.Prompt = strings.Join(parts, "\n")
		}
		return d.appendNode(b, p), nil
	}
	return b, keyErr("prompt: must be a string or an array")
}
