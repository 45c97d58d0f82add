package codec

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
)

// jobj is a decoded JSON object with the path it was found at, for strict
// field-by-field decoding with errors naming the field.
type jobj struct {
	path string
	m    map[string]json.RawMessage
}

// kind returns the JSON kind of raw: 'o' object, 'a' array, 's' string,
// 'n' number, 'b' boolean, 'z' null or absent.
func kind(raw json.RawMessage) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 'z'
	}
	switch raw[0] {
	case '{':
		return 'o'
	case '[':
		return 'a'
	case '"':
		return 's'
	case 't', 'f':
		return 'b'
	case 'n':
		return 'z'
	}
	return 'n'
}

func kindName(k byte) string {
	switch k {
	case 'o':
		return "an object"
	case 'a':
		return "an array"
	case 's':
		return "a string"
	case 'b':
		return "a boolean"
	case 'z':
		return "null"
	}
	return "a number"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func typeErr(path, want string, raw json.RawMessage) *Error {
	return invalidf(path, "invalid_type", "expected %s, got %s", want, kindName(kind(raw)))
}

// parseBody decodes a request body that must be a JSON object.
func parseBody(body []byte) (jobj, *Error) {
	t := bytes.TrimSpace(body)
	if len(t) == 0 || t[0] != '{' {
		return jobj{}, invalidf("", "invalid_json", "the request body must be a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(t, &m); err != nil {
		return jobj{}, invalidf("", "invalid_json", "the request body is not valid JSON: %v", err)
	}
	return jobj{m: m}, nil
}

func asObject(raw json.RawMessage, path string) (jobj, *Error) {
	if kind(raw) != 'o' {
		return jobj{}, typeErr(path, "an object", raw)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return jobj{}, typeErr(path, "an object", raw)
	}
	return jobj{path: path, m: m}, nil
}

func asArray(raw json.RawMessage, path string) ([]json.RawMessage, *Error) {
	if kind(raw) != 'a' {
		return nil, typeErr(path, "an array", raw)
	}
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, typeErr(path, "an array", raw)
	}
	return a, nil
}

func asString(raw json.RawMessage, path string) (string, *Error) {
	var s string
	if kind(raw) != 's' || json.Unmarshal(raw, &s) != nil {
		return "", typeErr(path, "a string", raw)
	}
	return s, nil
}

func (o jobj) p(key string) string { return join(o.path, key) }

// has reports whether key is present and not null.
func (o jobj) has(key string) bool { return kind(o.m[key]) != 'z' }

func (o jobj) raw(key string) json.RawMessage {
	if !o.has(key) {
		return nil
	}
	return o.m[key]
}

// str returns an optional string field ("" and false when absent or null).
func (o jobj) str(key string) (string, bool, *Error) {
	if !o.has(key) {
		return "", false, nil
	}
	s, err := asString(o.m[key], o.p(key))
	return s, err == nil, err
}

// reqStr returns a required, non-empty string field.
func (o jobj) reqStr(key string) (string, *Error) {
	s, ok, err := o.str(key)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", invalidf(o.p(key), "missing_required_parameter", "%s is required", key)
	}
	if s == "" {
		return "", invalidf(o.p(key), "", "%s must not be empty", key)
	}
	return s, nil
}

func (o jobj) float(key string) (*float64, *Error) {
	if !o.has(key) {
		return nil, nil
	}
	var f float64
	if kind(o.m[key]) != 'n' || json.Unmarshal(o.m[key], &f) != nil {
		return nil, typeErr(o.p(key), "a number", o.m[key])
	}
	return &f, nil
}

func (o jobj) floatIn(key string, lo, hi float64) (*float64, *Error) {
	f, err := o.float(key)
	if err != nil || f == nil {
		return f, err
	}
	if *f < lo || *f > hi {
		return nil, invalidf(o.p(key), "", "%s must be between %v and %v, got %v", key, lo, hi, *f)
	}
	return f, nil
}

func (o jobj) int(key string) (*int64, *Error) {
	if !o.has(key) {
		return nil, nil
	}
	var n json.Number
	if kind(o.m[key]) != 'n' || json.Unmarshal(o.m[key], &n) != nil {
		return nil, typeErr(o.p(key), "an integer", o.m[key])
	}
	i, err := n.Int64()
	if err != nil {
		return nil, invalidf(o.p(key), "invalid_type", "expected an integer, got %s", n)
	}
	return &i, nil
}

func (o jobj) intMin(key string, lo int64) (*int64, *Error) {
	i, err := o.int(key)
	if err != nil || i == nil {
		return i, err
	}
	if *i < lo {
		return nil, invalidf(o.p(key), "", "%s must be at least %d, got %d", key, lo, *i)
	}
	return i, nil
}

func (o jobj) bool(key string) (*bool, *Error) {
	if !o.has(key) {
		return nil, nil
	}
	var b bool
	if kind(o.m[key]) != 'b' || json.Unmarshal(o.m[key], &b) != nil {
		return nil, typeErr(o.p(key), "a boolean", o.m[key])
	}
	return &b, nil
}

func (o jobj) array(key string) ([]json.RawMessage, bool, *Error) {
	if !o.has(key) {
		return nil, false, nil
	}
	a, err := asArray(o.m[key], o.p(key))
	return a, err == nil, err
}

func (o jobj) object(key string) (jobj, bool, *Error) {
	if !o.has(key) {
		return jobj{}, false, nil
	}
	v, err := asObject(o.m[key], o.p(key))
	return v, err == nil, err
}

// unknown returns the first key (in sorted order, for stable errors) not
// in known.
func (o jobj) unknown(known map[string]bool) string {
	first := ""
	for k := range o.m {
		if !known[k] && (first == "" || k < first) {
			first = k
		}
	}
	return first
}

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// compact returns raw as compact JSON (raw must be valid JSON).
func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// marshal encodes v as compact JSON without HTML escaping.
func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Only unencodable values (NaN, channels) fail; the codec's types
		// hold none, and raw fields were validated when decoded.
		panic("codec: encoding JSON: " + err.Error())
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// NewResponseID returns a fresh Responses API id, "resp_" and 48 hex digits.
func NewResponseID() string { return "resp_" + randomHex(24) }

// NewMessageID returns a fresh Messages API id, "msg_" and 48 hex digits.
func NewMessageID() string { return "msg_" + randomHex(24) }

// derivedID makes a stable id for the i-th part of the answer with id base:
// prefix, "_", and 40 hex digits.
func derivedID(prefix, base string, i int) string {
	sum := sha256.Sum256([]byte(base + "/" + prefix + "/" + strconv.Itoa(i)))
	return prefix + "_" + hex.EncodeToString(sum[:20])
}
