package openai

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/semgate/semgate/providers"
)

// maxMessage bounds each text field of an error.
const maxMessage = 512

// parseError reads an error body into e. It understands OpenAI's
//
//	{"error":{"message":..., "type":..., "param":..., "code":...}}
//
// where code may be a string, a number or null (Azure, Together, Ollama and
// recent vLLM answer so too), and the shapes other compatible servers use:
// {"error":"text"} (Ollama, LM Studio), a top-level
// {"object":"error","message":...,"type":...,"code":400} (older vLLM) and
// {"detail":...} (FastAPI servers). Anything else becomes the message. The
// API key is masked wherever an upstream echoed it, and every field is cut
// to maxMessage bytes.
func (p *Provider) parseError(body []byte, e *providers.Error) {
	var b struct {
		Error   json.RawMessage `json:"error"`
		Message json.RawMessage `json:"message"`
		Type    json.RawMessage `json:"type"`
		Param   json.RawMessage `json:"param"`
		Code    json.RawMessage `json:"code"`
		Detail  json.RawMessage `json:"detail"`
	}
	if json.Unmarshal(body, &b) == nil {
		switch {
		case isObject(b.Error):
			var o struct{ Message, Type, Param, Code json.RawMessage }
			if json.Unmarshal(b.Error, &o) == nil {
				setFields(e, o.Message, o.Type, o.Param, o.Code)
			}
		case !isNull(b.Error):
			e.Message = text(b.Error)
		case !isNull(b.Message):
			setFields(e, b.Message, b.Type, b.Param, b.Code)
		case !isNull(b.Detail):
			e.Message = detail(b.Detail)
		}
	}
	if e.Message == "" {
		if s := bytes.TrimSpace(body); len(s) > 0 {
			e.Message = http.StatusText(e.Status) + ": " + string(s)
		}
	}
	key := p.key.Reveal()
	for _, f := range []*string{&e.Message, &e.Type, &e.Param, &e.Code} {
		if key != "" {
			*f = strings.ReplaceAll(*f, key, "[redacted]")
		}
		*f = shorten(*f)
	}
}

// setFields sets e's fields from the error object's, keeping e's Type when
// the upstream gave none.
func setFields(e *providers.Error, message, typ, param, code json.RawMessage) {
	e.Message = text(message)
	if t := text(typ); t != "" {
		e.Type = t
	}
	e.Param = text(param)
	e.Code = text(code)
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func isObject(raw json.RawMessage) bool {
	return len(raw) > 0 && raw[0] == '{'
}

// text returns a JSON string's value, "" for null, and any other value's
// JSON text (a number's digits).
func text(raw json.RawMessage) string {
	if isNull(raw) {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// detail renders a FastAPI "detail": a string, or validation errors
// [{"loc":[...],"msg":"..."}] as their messages joined.
func detail(raw json.RawMessage) string {
	var items []struct {
		Msg string `json:"msg"`
	}
	if json.Unmarshal(raw, &items) == nil {
		var msgs []string
		for _, it := range items {
			if it.Msg != "" {
				msgs = append(msgs, it.Msg)
			}
		}
		if len(msgs) > 0 {
			return strings.Join(msgs, "; ")
		}
	}
	return text(raw)
}

// shorten bounds s to maxMessage bytes of valid UTF-8, so an error never
// carries a whole upstream page.
func shorten(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= maxMessage {
		return s
	}
	cut := maxMessage
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
