package mock

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/tidwall/gjson"

	"github.com/semgate/semgate/providers"
)

// Limits on requests.
const (
	maxN         = 128
	maxInputs    = 2048
	maxLatencyMs = 3_600_000
)

type toolChoice uint8

const (
	toolAuto toolChoice = iota
	toolNone
	toolRequired
	toolNamed
)

// input is one completion prompt or embedding input.
type input struct {
	hash   uint64
	tokens int
}

// request is what the mock needs from an API request. Its strings and
// gjson results may alias the request body, which must outlive it.
type request struct {
	endpoint     providers.Endpoint
	model        string
	hash         uint64 // the model and the whole prompt
	promptTokens int
	maxTokens    int // 0: none
	n            int
	stream       bool
	includeUsage bool
	fault        fault
	faultSet     bool
	latency      time.Duration
	latencySet   bool
	tools        gjson.Result
	toolChoice   toolChoice
	toolName     string
	inputs       []input // completions prompts, embeddings inputs
	dims         int     // 0: the configured default
	base64       bool
}

// callsTool reports whether every choice answers with a tool call.
func (r *request) callsTool() bool { return r.toolChoice == toolRequired || r.toolChoice == toolNamed }

var (
	errInvalidJSON = &requestError{Message: "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)"}
	errNotObject   = &requestError{Message: "The request body must be a JSON object."}
)

func missing(param string) error {
	return &requestError{Param: param, Code: "missing_required_parameter", Message: "Missing required parameter: '" + param + "'."}
}

func invalidType(param, want string, v gjson.Result) error {
	return &requestError{Param: param, Code: "invalid_type", Message: "Invalid type for '" + param + "': expected " + want + ", but got " + kind(v) + " instead."}
}

func invalidValue(param, msg string) error {
	return &requestError{Param: param, Code: "invalid_value", Message: "Invalid value for '" + param + "': " + msg}
}

func emptyArray(param string) error {
	return &requestError{Param: param, Code: "empty_array", Message: "Invalid '" + param + "': empty array. Expected an array with minimum length 1, but got an empty array instead."}
}

// kind names v's JSON type for error messages.
func kind(v gjson.Result) string {
	switch v.Type {
	case gjson.String:
		return "a string"
	case gjson.Number:
		return "a number"
	case gjson.True, gjson.False:
		return "a boolean"
	case gjson.JSON:
		if v.IsArray() {
			return "an array"
		}
		return "an object"
	}
	return "null"
}

// isSet reports whether v is present and not null.
func isSet(v gjson.Result) bool { return v.Exists() && v.Type != gjson.Null }

// intParam reads an optional integer parameter in [lo, hi].
func intParam(v gjson.Result, param string, lo, hi, def int) (int, error) {
	if !isSet(v) {
		return def, nil
	}
	if v.Type != gjson.Number || v.Num != math.Trunc(v.Num) {
		return 0, invalidType(param, "an integer", v)
	}
	if v.Num < float64(lo) {
		return 0, &requestError{Param: param, Code: "integer_below_min_value", Message: fmt.Sprintf("Invalid '%s': integer below minimum value. Expected a value >= %d, but got %s instead.", param, lo, v.Raw)}
	}
	if v.Num > float64(hi) {
		return 0, &requestError{Param: param, Code: "integer_above_max_value", Message: fmt.Sprintf("Invalid '%s': integer above maximum value. Expected a value <= %d, but got %s instead.", param, hi, v.Raw)}
	}
	return int(v.Num), nil
}

// parseRequest reads body, a request to ep, into r, or returns a
// *requestError.
func parseRequest(ep providers.Endpoint, body []byte, r *request) error {
	s := unsafeString(body)
	if !gjson.Valid(s) {
		return errInvalidJSON
	}
	root := gjson.Parse(s)
	if !root.IsObject() {
		return errNotObject
	}
	var model, messages, prompt, in, maxTok, maxCompl, n, stream, streamOpts,
		tools, choice, dims, enc, mockFault, mockLatency gjson.Result
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "model":
			model = v
		case "messages":
			messages = v
		case "prompt":
			prompt = v
		case "input":
			in = v
		case "max_tokens":
			maxTok = v
		case "max_completion_tokens":
			maxCompl = v
		case "n":
			n = v
		case "stream":
			stream = v
		case "stream_options":
			streamOpts = v
		case "tools":
			tools = v
		case "tool_choice":
			choice = v
		case "dimensions":
			dims = v
		case "encoding_format":
			enc = v
		case "mock_fault":
			mockFault = v
		case "mock_latency_ms":
			mockLatency = v
		}
		return true
	})
	r.endpoint = ep
	r.n = 1
	switch {
	case !isSet(model):
		return &requestError{Param: "model", Code: "missing_required_parameter", Message: "You must provide a model parameter."}
	case model.Type != gjson.String:
		return invalidType("model", "a string", model)
	case model.Str == "":
		return invalidValue("model", "must not be empty.")
	}
	r.model = model.Str
	if err := r.parseMock(mockFault, mockLatency); err != nil {
		return err
	}
	switch ep {
	case providers.EndpointChat:
		if err := r.parseMessages(messages); err != nil {
			return err
		}
		if err := r.parseGeneration(maxTok, maxCompl, n, stream, streamOpts); err != nil {
			return err
		}
		return r.parseTools(tools, choice)
	case providers.EndpointCompletions:
		if err := r.parseInputs(prompt, "prompt", false); err != nil {
			return err
		}
		if err := r.parseGeneration(maxTok, gjson.Result{}, n, stream, streamOpts); err != nil {
			return err
		}
		if r.n*len(r.inputs) > maxInputs {
			return invalidValue("n", "n times the number of prompts must not exceed "+strconv.Itoa(maxInputs)+".")
		}
		return nil
	case providers.EndpointEmbeddings:
		if err := r.parseInputs(in, "input", true); err != nil {
			return err
		}
		var err error
		if r.dims, err = intParam(dims, "dimensions", 1, MaxDimensions, 0); err != nil {
			return err
		}
		switch {
		case !isSet(enc) || enc.Type == gjson.String && enc.Str == "float":
		case enc.Type == gjson.String && enc.Str == "base64":
			r.base64 = true
		default:
			return invalidValue("encoding_format", "expected 'float' or 'base64'.")
		}
		return nil
	}
	return fmt.Errorf("%w: endpoint %v", providers.ErrUnsupported, ep)
}

// parseMock reads the per-request overrides mock_fault and mock_latency_ms.
func (r *request) parseMock(f, lat gjson.Result) error {
	if isSet(f) {
		if f.Type != gjson.String {
			return invalidType("mock_fault", "a string", f)
		}
		if err := r.setFault(f.Str, "mock_fault"); err != nil {
			return err
		}
	}
	if isSet(lat) {
		if lat.Type != gjson.Number {
			return invalidType("mock_latency_ms", "a number", lat)
		}
		if err := r.setLatency(lat.Num, "mock_latency_ms"); err != nil {
			return err
		}
	}
	return nil
}

// setFault forces fault kind s ("none" for none); param names its source.
func (r *request) setFault(s, param string) error {
	if s == "none" {
		r.fault, r.faultSet = noFault, true
		return nil
	}
	f, err := parseFault(s)
	if err != nil {
		return invalidValue(param, err.Error()+".")
	}
	r.fault, r.faultSet = f, true
	return nil
}

// setLatency replaces TTFT with ms milliseconds; param names its source.
func (r *request) setLatency(ms float64, param string) error {
	if !(ms >= 0 && ms <= maxLatencyMs) {
		return invalidValue(param, "expected milliseconds between 0 and "+strconv.Itoa(maxLatencyMs)+".")
	}
	r.latency, r.latencySet = time.Duration(ms*float64(time.Millisecond)), true
	return nil
}

// parseGeneration reads n, the token limits and the stream flags.
func (r *request) parseGeneration(maxTok, maxCompl, n, stream, streamOpts gjson.Result) error {
	var err error
	if r.n, err = intParam(n, "n", 1, maxN, 1); err != nil {
		return err
	}
	if r.maxTokens, err = intParam(maxTok, "max_tokens", 1, math.MaxInt32, 0); err != nil {
		return err
	}
	mc, err := intParam(maxCompl, "max_completion_tokens", 1, math.MaxInt32, 0)
	if err != nil {
		return err
	}
	if mc > 0 && (r.maxTokens == 0 || mc < r.maxTokens) {
		r.maxTokens = mc
	}
	switch stream.Type {
	case gjson.True:
		r.stream = true
	case gjson.False, gjson.Null:
	default:
		return invalidType("stream", "a boolean", stream)
	}
	if !isSet(streamOpts) {
		return nil
	}
	if !streamOpts.IsObject() {
		return invalidType("stream_options", "an object", streamOpts)
	}
	if !r.stream {
		return &requestError{Param: "stream_options", Code: "invalid_value", Message: "The 'stream_options' parameter is only allowed when 'stream' is enabled."}
	}
	switch iu := streamOpts.Get("include_usage"); iu.Type {
	case gjson.True:
		r.includeUsage = true
	case gjson.False, gjson.Null:
	default:
		return invalidType("stream_options.include_usage", "a boolean", iu)
	}
	return nil
}

// parseMessages hashes and counts the chat messages.
func (r *request) parseMessages(v gjson.Result) error {
	if !isSet(v) {
		return missing("messages")
	}
	if !v.IsArray() {
		return invalidType("messages", "an array", v)
	}
	h := hashField(fnvOffset64, 'm', r.model)
	tokens := 3 // every reply is primed with <|start|>assistant<|message|>
	i := 0
	var err error
	v.ForEach(func(_, m gjson.Result) bool {
		h, tokens, err = absorbMessage(h, tokens, i, m)
		i++
		return err == nil
	})
	if err != nil {
		return err
	}
	if i == 0 {
		return emptyArray("messages")
	}
	r.hash, r.promptTokens = h, tokens
	return nil
}

func msgParam(i int, field string) string {
	return "messages[" + strconv.Itoa(i) + "]" + field
}

// absorbMessage adds message i to the hash h and the token count.
func absorbMessage(h uint64, tokens, i int, m gjson.Result) (uint64, int, error) {
	if !m.IsObject() {
		return h, tokens, invalidType(msgParam(i, ""), "an object", m)
	}
	var role, content, name, callID, calls gjson.Result
	m.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "role":
			role = v
		case "content":
			content = v
		case "name":
			name = v
		case "tool_call_id":
			callID = v
		case "tool_calls":
			calls = v
		}
		return true
	})
	switch {
	case !isSet(role):
		return h, tokens, missing(msgParam(i, ".role"))
	case role.Type != gjson.String:
		return h, tokens, invalidType(msgParam(i, ".role"), "a string", role)
	}
	switch role.Str {
	case "system", "developer", "user", "assistant", "tool", "function":
	default:
		return h, tokens, invalidValue(msgParam(i, ".role"), "'"+role.Str+"' is not one of ['system', 'developer', 'user', 'assistant', 'tool', 'function'].")
	}
	h = hashField(h, 'r', role.Str)
	tokens += 3
	if name.Type == gjson.String {
		h = hashField(h, 'n', name.Str)
		tokens += 1 + countTokens(name.Str)
	}
	switch {
	case content.Type == gjson.String:
		h = hashField(h, 'c', content.Str)
		tokens += countTokens(content.Str)
	case content.IsArray():
		var err error
		j := 0
		content.ForEach(func(_, p gjson.Result) bool {
			h, tokens, err = absorbPart(h, tokens, i, j, p)
			j++
			return err == nil
		})
		if err != nil {
			return h, tokens, err
		}
	case !isSet(content):
		if role.Str != "assistant" {
			return h, tokens, missing(msgParam(i, ".content"))
		}
	default:
		return h, tokens, invalidType(msgParam(i, ".content"), "a string or an array", content)
	}
	if callID.Type == gjson.String {
		h = hashField(h, 'i', callID.Str)
	}
	if calls.IsArray() {
		calls.ForEach(func(_, c gjson.Result) bool {
			fn := c.Get("function")
			name, args := fn.Get("name").String(), fn.Get("arguments").String()
			h = hashField(hashField(h, 'f', name), 'a', args)
			tokens += 3 + countTokens(name) + countTokens(args)
			return true
		})
	}
	return h, tokens, nil
}

// absorbPart adds part j of message i's content to the hash and count.
func absorbPart(h uint64, tokens, i, j int, p gjson.Result) (uint64, int, error) {
	param := msgParam(i, ".content["+strconv.Itoa(j)+"]")
	if !p.IsObject() {
		return h, tokens, invalidType(param, "an object", p)
	}
	typ := p.Get("type")
	if typ.Type != gjson.String {
		return h, tokens, missing(param + ".type")
	}
	h = hashField(h, 't', typ.Str)
	switch typ.Str {
	case "text":
		t := p.Get("text")
		if t.Type != gjson.String {
			return h, tokens, invalidType(param+".text", "a string", t)
		}
		h = hashField(h, 'c', t.Str)
		tokens += countTokens(t.Str)
	case "image_url":
		u := p.Get("image_url.url")
		if !u.Exists() {
			u = p.Get("image_url")
		}
		h = hashField(h, 'u', u.String())
		tokens += 85 // a low-detail image
	default:
		h = hashField(h, 'x', p.Raw)
		tokens += countTokens(p.Raw)
	}
	return h, tokens, nil
}

// parseTools checks tools and tool_choice.
func (r *request) parseTools(tools, choice gjson.Result) error {
	if isSet(tools) {
		if !tools.IsArray() {
			return invalidType("tools", "an array", tools)
		}
		i := 0
		var err error
		tools.ForEach(func(_, t gjson.Result) bool {
			err = checkTool(i, t)
			i++
			return err == nil
		})
		if err != nil {
			return err
		}
		if i == 0 {
			return emptyArray("tools")
		}
		r.tools = tools
		r.promptTokens += countTokens(tools.Raw) / 2 // definitions are sent compacted
	}
	if !isSet(choice) {
		return nil
	}
	switch {
	case choice.Type == gjson.String:
		switch choice.Str {
		case "none":
			r.toolChoice = toolNone
		case "auto":
			r.toolChoice = toolAuto
		case "required":
			r.toolChoice = toolRequired
		default:
			return invalidValue("tool_choice", "expected 'none', 'auto', 'required' or a named function.")
		}
	case choice.IsObject():
		name := choice.Get("function.name")
		if choice.Get("type").String() != "function" || name.Type != gjson.String || name.Str == "" {
			return invalidValue("tool_choice", "expected {\"type\": \"function\", \"function\": {\"name\": ...}}.")
		}
		r.toolChoice, r.toolName = toolNamed, name.Str
	default:
		return invalidType("tool_choice", "a string or an object", choice)
	}
	if !r.tools.Exists() {
		return invalidValue("tool_choice", "'tool_choice' is only allowed when 'tools' are specified.")
	}
	if r.toolChoice == toolNamed {
		if _, ok := r.findTool(r.toolName); !ok {
			return invalidValue("tool_choice", "no function named '"+r.toolName+"' is in 'tools'.")
		}
	}
	return nil
}

// checkTool validates tools[i].
func checkTool(i int, t gjson.Result) error {
	param := "tools[" + strconv.Itoa(i) + "]"
	if !t.IsObject() {
		return invalidType(param, "an object", t)
	}
	if typ := t.Get("type"); typ.String() != "function" {
		if !isSet(typ) {
			return missing(param + ".type")
		}
		return invalidValue(param+".type", "expected 'function'.")
	}
	fn := t.Get("function")
	if !fn.IsObject() {
		if !isSet(fn) {
			return missing(param + ".function")
		}
		return invalidType(param+".function", "an object", fn)
	}
	name := fn.Get("name")
	switch {
	case !isSet(name):
		return missing(param + ".function.name")
	case name.Type != gjson.String:
		return invalidType(param+".function.name", "a string", name)
	case name.Str == "":
		return invalidValue(param+".function.name", "must not be empty.")
	}
	if p := fn.Get("parameters"); isSet(p) && !p.IsObject() {
		return invalidType(param+".function.parameters", "an object", p)
	}
	return nil
}

// findTool returns the "function" object of the tool called name, or of
// the first tool when name is empty.
func (r *request) findTool(name string) (gjson.Result, bool) {
	var found gjson.Result
	ok := false
	r.tools.ForEach(func(_, t gjson.Result) bool {
		fn := t.Get("function")
		if name == "" || fn.Get("name").Str == name {
			found, ok = fn, true
			return false
		}
		return true
	})
	return found, ok
}

// parseInputs reads a completions prompt or an embeddings input: a string,
// an array of strings, an array of token ids or an array of such arrays.
// Embeddings reject empty inputs.
func (r *request) parseInputs(v gjson.Result, param string, embed bool) error {
	if !isSet(v) {
		return missing(param)
	}
	base := hashField(fnvOffset64, 'm', r.model)
	emptyInput := func(p string) error {
		return invalidValue(p, "inputs must not be empty.")
	}
	switch {
	case v.Type == gjson.String:
		if embed && v.Str == "" {
			return emptyInput(param)
		}
		r.inputs = append(r.inputs, input{hash: hashField(base, 's', v.Str), tokens: countTokens(v.Str)})
	case v.IsArray():
		const (
			kindNone = iota
			kindStrings
			kindTokens
			kindLists
		)
		k, i := kindNone, 0
		ids := input{hash: base}
		var err error
		v.ForEach(func(_, e gjson.Result) bool {
			p := param + "[" + strconv.Itoa(i) + "]"
			i++
			var ek int
			switch {
			case e.Type == gjson.String:
				ek = kindStrings
				if embed && e.Str == "" {
					err = emptyInput(p)
					return false
				}
				r.inputs = append(r.inputs, input{hash: hashField(base, 's', e.Str), tokens: countTokens(e.Str)})
			case e.Type == gjson.Number:
				ek = kindTokens
				ids.hash = hashField(ids.hash, 't', e.Raw)
				ids.tokens++
			case e.IsArray():
				ek = kindLists
				list := input{hash: base}
				e.ForEach(func(_, id gjson.Result) bool {
					if id.Type != gjson.Number {
						err = invalidType(p, "an array of integers", e)
						return false
					}
					list.hash = hashField(list.hash, 't', id.Raw)
					list.tokens++
					return true
				})
				if err == nil && embed && list.tokens == 0 {
					err = emptyInput(p)
				}
				r.inputs = append(r.inputs, list)
			default:
				err = invalidType(p, "a string, an integer or an array of integers", e)
			}
			if err == nil && k != kindNone && ek != k {
				err = invalidType(param, "an array of one kind (strings, integers or arrays of integers)", v)
			}
			if err == nil && len(r.inputs) > maxInputs {
				err = invalidValue(param, "at most "+strconv.Itoa(maxInputs)+" inputs are allowed.")
			}
			k = ek
			return err == nil
		})
		if err != nil {
			return err
		}
		if i == 0 {
			return emptyArray(param)
		}
		if k == kindTokens {
			r.inputs = append(r.inputs, ids)
		}
	default:
		return invalidType(param, "a string or an array", v)
	}
	r.hash = base
	for _, in := range r.inputs {
		r.hash = mix64(r.hash^in.hash) + golden
		r.promptTokens += in.tokens
	}
	return nil
}
