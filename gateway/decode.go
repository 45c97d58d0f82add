package gateway

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/semgate/semgate/providers"
	"github.com/tidwall/gjson"
)

// request is what the pipeline needs to know about a client request. The
// body itself is forwarded untouched apart from the model name.
type request struct {
	endpoint     providers.Endpoint
	model        string
	stream       bool
	includeUsage bool
	body         []byte
}

// decodeRequest validates body for the endpoint and extracts the fields
// the pipeline uses. It decodes only what it checks; unknown fields are
// left for the upstream.
func decodeRequest(ep providers.Endpoint, body []byte) (*request, error) {
	if len(body) == 0 {
		return nil, badRequest("", "the request body is empty; send a JSON object")
	}
	if !utf8.Valid(body) {
		return nil, badRequest("", "the request body is not valid UTF-8")
	}
	if tooDeep(body, maxJSONDepth) {
		return nil, badRequest("", "the request body nests deeper than "+strconv.Itoa(maxJSONDepth)+" levels")
	}
	if !gjson.ValidBytes(body) {
		return nil, badRequest("", "the request body is not valid JSON: "+syntaxDetail(body))
	}
	root := gjson.ParseBytes(body)
	if !root.IsObject() {
		return nil, badRequest("", "the request body must be a JSON object")
	}
	req := &request{endpoint: ep, body: body}
	var fields fieldSet
	var err error
	root.ForEach(func(k, v gjson.Result) bool {
		err = fields.add(k.Str, v)
		return err == nil
	})
	if err != nil {
		return nil, err
	}
	if err := fields.checkModel(req); err != nil {
		return nil, err
	}
	switch ep {
	case providers.EndpointChat:
		err = fields.checkChat(req)
	case providers.EndpointCompletions:
		err = fields.checkCompletions(req)
	case providers.EndpointEmbeddings:
		err = fields.checkEmbeddings()
	}
	return req, err
}

// syntaxDetail names where a JSON syntax error is; it runs only on the
// error path.
func syntaxDetail(body []byte) string {
	var v json.RawMessage
	err := json.Unmarshal(body, &v)
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Error() + " (at byte " + strconv.FormatInt(se.Offset, 10) + ")"
	}
	if err != nil {
		return err.Error()
	}
	return "malformed"
}

// known top-level fields the gateway validates.
const (
	fModel = iota
	fMessages
	fPrompt
	fInput
	fStream
	fStreamOptions
	fN
	fMaxTokens
	fMaxCompletionTokens
	fTemperature
	fTopP
	fPresencePenalty
	fFrequencyPenalty
	fStop
	fTools
	fToolChoice
	fSeed
	fLogitBias
	fResponseFormat
	fEncodingFormat
	fDimensions
	fUser
	numFields
)

var fieldNames = [numFields]string{
	"model", "messages", "prompt", "input", "stream", "stream_options", "n",
	"max_tokens", "max_completion_tokens", "temperature", "top_p",
	"presence_penalty", "frequency_penalty", "stop", "tools", "tool_choice",
	"seed", "logit_bias", "response_format", "encoding_format", "dimensions", "user",
}

func fieldIndex(name string) int {
	for i, n := range fieldNames {
		if n == name {
			return i
		}
	}
	return -1
}

type fieldSet struct {
	v   [numFields]gjson.Result
	set [numFields]bool
}

func (f *fieldSet) add(name string, v gjson.Result) error {
	i := fieldIndex(name)
	if i < 0 {
		return nil
	}
	if f.set[i] {
		return badRequest(name, "the field "+strconv.Quote(name)+" appears more than once")
	}
	f.set[i], f.v[i] = true, v
	return nil
}

// present reports whether field i is set to something other than null.
func (f *fieldSet) present(i int) bool { return f.set[i] && f.v[i].Type != gjson.Null }

func (f *fieldSet) checkModel(req *request) error {
	if !f.present(fModel) {
		return badRequest("model", "you must provide a model parameter")
	}
	if f.v[fModel].Type != gjson.String || f.v[fModel].Str == "" {
		return badRequest("model", "model must be a non-empty string")
	}
	req.model = f.v[fModel].Str
	return nil
}

func (f *fieldSet) checkStream(req *request) error {
	if f.present(fStream) {
		v := f.v[fStream]
		if !isBool(v) {
			return badRequest("stream", "stream must be a boolean")
		}
		req.stream = v.Type == gjson.True
	}
	if f.present(fStreamOptions) {
		v := f.v[fStreamOptions]
		if !v.IsObject() {
			return badRequest("stream_options", "stream_options must be an object")
		}
		if !req.stream {
			return badRequest("stream_options", "stream_options is only allowed when stream is true")
		}
		if iu := v.Get("include_usage"); iu.Exists() && iu.Type != gjson.Null {
			if !isBool(iu) {
				return badRequest("stream_options.include_usage", "stream_options.include_usage must be a boolean")
			}
			req.includeUsage = iu.Type == gjson.True
		}
	}
	return nil
}

// checkSampling validates the sampling parameters chat and completions
// share.
func (f *fieldSet) checkSampling() error {
	if err := f.intRange(fN, 1, 128); err != nil {
		return err
	}
	if err := f.intRange(fMaxTokens, 0, math.MaxInt32); err != nil {
		return err
	}
	if err := f.numRange(fTemperature, 0, 2); err != nil {
		return err
	}
	if err := f.numRange(fTopP, 0, 1); err != nil {
		return err
	}
	if err := f.numRange(fPresencePenalty, -2, 2); err != nil {
		return err
	}
	if err := f.numRange(fFrequencyPenalty, -2, 2); err != nil {
		return err
	}
	if err := f.intRange(fSeed, math.MinInt64, math.MaxInt64); err != nil {
		return err
	}
	if f.present(fStop) {
		v := f.v[fStop]
		switch {
		case v.Type == gjson.String:
		case v.IsArray():
			n := 0
			var bad bool
			v.ForEach(func(_, s gjson.Result) bool {
				n++
				bad = s.Type != gjson.String
				return !bad
			})
			if bad {
				return badRequest("stop", "stop must be a string or an array of strings")
			}
			if n > 4 {
				return badRequest("stop", "stop may hold at most 4 sequences")
			}
		default:
			return badRequest("stop", "stop must be a string or an array of strings")
		}
	}
	if f.present(fLogitBias) && !f.v[fLogitBias].IsObject() {
		return badRequest("logit_bias", "logit_bias must be an object")
	}
	if f.present(fUser) && f.v[fUser].Type != gjson.String {
		return badRequest("user", "user must be a string")
	}
	return nil
}

var validRoles = []string{"system", "developer", "user", "assistant", "tool", "function"}

func (f *fieldSet) checkChat(req *request) error {
	if err := f.checkStream(req); err != nil {
		return err
	}
	if err := f.checkSampling(); err != nil {
		return err
	}
	if err := f.intRange(fMaxCompletionTokens, 1, math.MaxInt32); err != nil {
		return err
	}
	if !f.present(fMessages) {
		return badRequest("messages", "messages is required")
	}
	msgs := f.v[fMessages]
	if !msgs.IsArray() {
		return badRequest("messages", "messages must be an array")
	}
	var err error
	i := 0
	msgs.ForEach(func(_, m gjson.Result) bool {
		err = checkMessage(i, m)
		i++
		return err == nil
	})
	if err != nil {
		return err
	}
	if i == 0 {
		return badRequest("messages", "messages must not be empty")
	}
	if f.present(fTools) {
		if err := checkTools(f.v[fTools]); err != nil {
			return err
		}
	}
	if f.present(fToolChoice) {
		tc := f.v[fToolChoice]
		if tc.Type != gjson.String && !tc.IsObject() {
			return badRequest("tool_choice", "tool_choice must be a string or an object")
		}
	}
	if f.present(fResponseFormat) {
		rf := f.v[fResponseFormat]
		if !rf.IsObject() || rf.Get("type").Type != gjson.String {
			return badRequest("response_format", `response_format must be an object with a string "type"`)
		}
	}
	return nil
}

func checkMessage(i int, m gjson.Result) error {
	param := "messages[" + strconv.Itoa(i) + "]"
	if !m.IsObject() {
		return badRequest(param, param+" must be an object")
	}
	role := m.Get("role")
	if role.Type != gjson.String {
		return badRequest(param+".role", param+".role must be a string")
	}
	known := false
	for _, r := range validRoles {
		if role.Str == r {
			known = true
			break
		}
	}
	if !known {
		return badRequest(param+".role", "invalid role "+strconv.Quote(role.Str)+"; expected system, developer, user, assistant or tool")
	}
	content := m.Get("content")
	switch {
	case content.Type == gjson.String:
	case content.IsArray():
		var err error
		j := 0
		content.ForEach(func(_, part gjson.Result) bool {
			p := param + ".content[" + strconv.Itoa(j) + "]"
			if !part.IsObject() || part.Get("type").Type != gjson.String {
				err = badRequest(p, p+` must be an object with a string "type"`)
			}
			j++
			return err == nil
		})
		if err != nil {
			return err
		}
	case !content.Exists() || content.Type == gjson.Null:
		if role.Str != "assistant" {
			return badRequest(param+".content", param+".content is required for role "+role.Str)
		}
	default:
		return badRequest(param+".content", param+".content must be a string or an array of content parts")
	}
	if role.Str == "tool" && m.Get("tool_call_id").Type != gjson.String {
		return badRequest(param+".tool_call_id", param+".tool_call_id is required for role tool")
	}
	if tc := m.Get("tool_calls"); tc.Exists() && tc.Type != gjson.Null && !tc.IsArray() {
		return badRequest(param+".tool_calls", param+".tool_calls must be an array")
	}
	return nil
}

func checkTools(tools gjson.Result) error {
	if !tools.IsArray() {
		return badRequest("tools", "tools must be an array")
	}
	var err error
	i := 0
	tools.ForEach(func(_, t gjson.Result) bool {
		p := "tools[" + strconv.Itoa(i) + "]"
		i++
		if !t.IsObject() || t.Get("type").Type != gjson.String {
			err = badRequest(p, p+` must be an object with a string "type"`)
			return false
		}
		if t.Get("type").Str == "function" && t.Get("function.name").Type != gjson.String {
			err = badRequest(p+".function.name", p+".function.name is required")
		}
		return err == nil
	})
	return err
}

func (f *fieldSet) checkCompletions(req *request) error {
	if err := f.checkStream(req); err != nil {
		return err
	}
	if err := f.checkSampling(); err != nil {
		return err
	}
	if !f.present(fPrompt) {
		return badRequest("prompt", "prompt is required")
	}
	p := f.v[fPrompt]
	switch {
	case p.Type == gjson.String:
	case p.IsArray():
		n := 0
		var bad bool
		p.ForEach(func(_, e gjson.Result) bool {
			n++
			bad = !(e.Type == gjson.String || isInt(e) || e.IsArray())
			return !bad
		})
		if bad || n == 0 {
			return badRequest("prompt", "prompt must be a string, an array of strings, or token arrays, and not empty")
		}
	default:
		return badRequest("prompt", "prompt must be a string or an array")
	}
	return nil
}

func (f *fieldSet) checkEmbeddings() error {
	if !f.present(fInput) {
		return badRequest("input", "input is required")
	}
	in := f.v[fInput]
	switch {
	case in.Type == gjson.String:
		if in.Str == "" {
			return badRequest("input", "input must not be an empty string")
		}
	case in.IsArray():
		n := 0
		var bad bool
		in.ForEach(func(_, e gjson.Result) bool {
			n++
			bad = !((e.Type == gjson.String && e.Str != "") || isInt(e) || e.IsArray())
			return !bad
		})
		if bad || n == 0 {
			return badRequest("input", "input must be a non-empty string, an array of non-empty strings, or token arrays")
		}
		if n > 2048 {
			return badRequest("input", "input may hold at most 2048 items")
		}
	default:
		return badRequest("input", "input must be a string or an array")
	}
	if f.present(fEncodingFormat) {
		ef := f.v[fEncodingFormat]
		if ef.Type != gjson.String || (ef.Str != "float" && ef.Str != "base64") {
			return badRequest("encoding_format", `encoding_format must be "float" or "base64"`)
		}
	}
	return f.intRange(fDimensions, 1, 1<<16)
}

func isBool(v gjson.Result) bool { return v.Type == gjson.True || v.Type == gjson.False }

// isInt reports whether v is a JSON number with an integral value.
func isInt(v gjson.Result) bool {
	if v.Type != gjson.Number {
		return false
	}
	for i := 0; i < len(v.Raw); i++ {
		switch v.Raw[i] {
		case '.', 'e', 'E':
			return v.Num == math.Trunc(v.Num) && math.Abs(v.Num) < 1<<53
		}
	}
	return true
}

func (f *fieldSet) intRange(i int, lo, hi float64) error {
	if !f.present(i) {
		return nil
	}
	v := f.v[i]
	name := fieldNames[i]
	if !isInt(v) {
		return badRequest(name, name+" must be an integer")
	}
	if v.Num < lo || v.Num > hi {
		return badRequest(name, name+" must be between "+fmtNum(lo)+" and "+fmtNum(hi))
	}
	return nil
}

func (f *fieldSet) numRange(i int, lo, hi float64) error {
	if !f.present(i) {
		return nil
	}
	v := f.v[i]
	name := fieldNames[i]
	if v.Type != gjson.Number {
		return badRequest(name, name+" must be a number")
	}
	if v.Num < lo || v.Num > hi || math.IsNaN(v.Num) {
		return badRequest(name, name+" must be between "+fmtNum(lo)+" and "+fmtNum(hi))
	}
	return nil
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
