package answer

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/tidwall/gjson"
)

// Kinds of answer, as the cache names endpoints.
const (
	KindChat        = "chat"
	KindCompletions = "completions"
)

var (
	// ErrIncomplete: a stream ended before every choice had its
	// finish_reason, or a chunk is not a JSON object.
	ErrIncomplete = errors.New("answer: incomplete stream")
	// ErrLossy: converting the answer to the other form would lose or
	// change a field.
	ErrLossy = errors.New("answer: conversion would lose a field")
	// ErrCorrupt: stored events could not be decoded.
	ErrCorrupt = errors.New("answer: corrupt stored answer")
)

// maxChoices bounds a choice index (n is at most 128 in OpenAI's API).
const maxChoices = 128

// merge rules: how a field's values across chunks fold into one.
type rule uint8

const (
	ruleSame   rule = iota // every non-null value is the same; null never overrides
	ruleFirst              // the first non-null value (created: some servers stamp each chunk)
	ruleLast               // the last non-null value (usage)
	ruleText               // strings concatenated
	ruleArray              // arrays concatenated
	ruleObject             // an object merged member by member (see sub)
	ruleTools              // tool_calls: merged by each element's index
	ruleDrop               // not part of the answer (stream padding)
	ruleLossy              // cannot be converted (streamed audio)
)

// rules returns the rule for a member of an object at a given place, and the
// rules of its members when it is an object.
type rules func(key string) (rule, rules)

func topRules(key string) (rule, rules) {
	switch key {
	case "created":
		return ruleFirst, nil
	case "usage":
		return ruleLast, nil
	case "obfuscation":
		return ruleDrop, nil
	}
	return ruleSame, nil
}

func chatChoiceRules(key string) (rule, rules) {
	switch key {
	case "delta":
		return ruleObject, messageRules
	case "logprobs":
		return ruleObject, chatLogprobRules
	}
	return ruleSame, nil
}

func messageRules(key string) (rule, rules) {
	switch key {
	case "content", "refusal", "reasoning_content", "reasoning":
		return ruleText, nil
	case "tool_calls":
		return ruleTools, toolRules
	case "function_call":
		return ruleObject, functionRules
	case "annotations":
		return ruleArray, nil
	case "audio":
		return ruleLossy, nil
	}
	return ruleSame, nil
}

func toolRules(key string) (rule, rules) {
	if key == "function" {
		return ruleObject, functionRules
	}
	return ruleSame, nil
}

func functionRules(key string) (rule, rules) {
	if key == "arguments" {
		return ruleText, nil
	}
	return ruleSame, nil
}

func chatLogprobRules(key string) (rule, rules) {
	switch key {
	case "content", "refusal":
		return ruleArray, nil
	}
	return ruleSame, nil
}

func textChoiceRules(key string) (rule, rules) {
	switch key {
	case "text":
		return ruleText, nil
	case "logprobs":
		return ruleObject, textLogprobRules
	}
	return ruleSame, nil
}

func textLogprobRules(key string) (rule, rules) {
	switch key {
	case "tokens", "token_logprobs", "top_logprobs", "text_offset":
		return ruleArray, nil
	}
	return ruleSame, nil
}

// field is one member being assembled.
type field struct {
	key   string
	rule  rule
	null  bool   // only null seen so far
	set   bool   // a value was seen
	raw   []byte // ruleSame/First/Last: the value; ruleArray: elements joined by ','
	text  []byte // ruleText: the decoded string so far
	sub   *object
	tools []*tool
}

type tool struct {
	index int64
	obj   object
}

// object is an object being assembled: its members in first-seen order.
type object struct {
	fields []*field
	rules  rules
}

func (o *object) field(key string) *field {
	for _, f := range o.fields {
		if f.key == key {
			return f
		}
	}
	r, sub := o.rules(key)
	f := &field{key: key, rule: r, null: true}
	if r == ruleObject {
		f.sub = &object{rules: sub}
	}
	o.fields = append(o.fields, f)
	return f
}

func lossy(path, key, why string) error {
	return fmt.Errorf("%w: %s%s %s", ErrLossy, path, key, why)
}

// merge folds one chunk's object v into o.
func (o *object) merge(v gjson.Result, path string) error {
	var err error
	v.ForEach(func(k, val gjson.Result) bool {
		err = o.mergeField(o.field(k.Str), val, path)
		return err == nil
	})
	return err
}

func (o *object) mergeField(f *field, v gjson.Result, path string) error {
	if f.rule == ruleDrop {
		return nil
	}
	if v.Type == gjson.Null {
		f.set = true // null-only fields are kept as null
		return nil
	}
	if f.rule == ruleLossy {
		return lossy(path, f.key, "is streamed in a form the JSON answer does not have")
	}
	first := f.null
	f.null, f.set = false, true
	switch f.rule {
	case ruleSame:
		if first {
			f.raw = append(f.raw[:0], v.Raw...)
		} else if !bytes.Equal(f.raw, []byte(v.Raw)) {
			return lossy(path, f.key, "changes between chunks")
		}
	case ruleFirst:
		if first {
			f.raw = append(f.raw[:0], v.Raw...)
		}
	case ruleLast:
		f.raw = append(f.raw[:0], v.Raw...)
	case ruleText:
		if v.Type != gjson.String {
			return lossy(path, f.key, "is not a string")
		}
		f.text = append(f.text, v.Str...)
	case ruleArray:
		if !v.IsArray() {
			return lossy(path, f.key, "is not an array")
		}
		inner := bytes.TrimSpace([]byte(v.Raw))
		inner = bytes.TrimSpace(inner[1 : len(inner)-1])
		if len(inner) > 0 {
			if len(f.raw) > 0 {
				f.raw = append(f.raw, ',')
			}
			f.raw = append(f.raw, inner...)
		}
	case ruleObject:
		if !v.IsObject() {
			return lossy(path, f.key, "is not an object")
		}
		return f.sub.merge(v, path+f.key+".")
	case ruleTools:
		if !v.IsArray() {
			return lossy(path, f.key, "is not an array")
		}
		var err error
		v.ForEach(func(_, call gjson.Result) bool {
			err = f.mergeTool(call, path)
			return err == nil
		})
		return err
	}
	return nil
}

func (f *field) mergeTool(call gjson.Result, path string) error {
	idx := call.Get("index")
	if !call.IsObject() || idx.Type != gjson.Number || idx.Num < 0 || idx.Num >= maxChoices || idx.Num != float64(int64(idx.Num)) {
		return lossy(path, f.key, "has an element without a valid index")
	}
	var t *tool
	for _, x := range f.tools {
		if x.index == int64(idx.Num) {
			t = x
		}
	}
	if t == nil {
		_, sub := messageRules("tool_calls")
		t = &tool{index: int64(idx.Num), obj: object{rules: sub}}
		f.tools = append(f.tools, t)
	}
	var err error
	call.ForEach(func(k, v gjson.Result) bool {
		if k.Str == "index" {
			return true // the position in the JSON answer's array
		}
		err = t.obj.mergeField(t.obj.field(k.Str), v, path+"tool_calls.")
		return err == nil
	})
	return err
}

func (o *object) appendJSON(b []byte) []byte {
	b = append(b, '{')
	n := 0
	for _, f := range o.fields {
		if f.rule == ruleDrop || !f.set {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendString(b, f.key)
		b = append(b, ':')
		b = f.appendValue(b)
	}
	return append(b, '}')
}

func (f *field) appendValue(b []byte) []byte {
	if f.null {
		return append(b, "null"...)
	}
	switch f.rule {
	case ruleText:
		return appendString(b, string(f.text))
	case ruleArray:
		b = append(b, '[')
		b = append(b, f.raw...)
		return append(b, ']')
	case ruleObject:
		return f.sub.appendJSON(b)
	case ruleTools:
		tools := slices.Clone(f.tools)
		slices.SortFunc(tools, func(x, y *tool) int { return int(x.index - y.index) })
		b = append(b, '[')
		for i, t := range tools {
			if i > 0 {
				b = append(b, ',')
			}
			b = t.obj.appendJSON(b)
		}
		return append(b, ']')
	}
	return append(b, f.raw...)
}

// choice is one choice being assembled.
type choice struct {
	index  int64
	obj    object
	finish string // the non-null finish_reason, once seen
}

// Assembler folds the chunks of a streamed answer into the JSON answer
// they stand for. Add every event's data (not "[DONE]"), then call Result.
// It keeps going after a field turned out unconvertible, so FinishReasons
// and Complete still report on the whole stream.
type Assembler struct {
	kind    string
	top     object
	choices []*choice
	chunks  int
	seen    []string // top-level keys in first-seen order, "choices" included
	lossy   error
	bad     error
}

// NewAssembler returns an assembler for KindChat or KindCompletions.
func NewAssembler(kind string) *Assembler {
	return &Assembler{kind: kind, top: object{rules: topRules}}
}

// Add folds one chunk in. It fails with ErrIncomplete when the chunk is not
// a JSON object; an unconvertible field is reported by Result, not here.
func (a *Assembler) Add(data []byte) error {
	if a.bad != nil {
		return a.bad
	}
	if !gjson.ValidBytes(data) {
		a.bad = fmt.Errorf("%w: a chunk is not valid JSON", ErrIncomplete)
		return a.bad
	}
	v := gjson.ParseBytes(data)
	if !v.IsObject() {
		a.bad = fmt.Errorf("%w: a chunk is not a JSON object", ErrIncomplete)
		return a.bad
	}
	a.chunks++
	v.ForEach(func(k, val gjson.Result) bool {
		key := k.Str
		if !slices.Contains(a.seen, key) {
			a.seen = append(a.seen, key)
		}
		switch key {
		case "object":
			return true // the JSON answer's own object name is written by Result
		case "choices":
			if !val.IsArray() {
				a.noteLossy(lossy("", key, "is not an array"))
				return true
			}
			val.ForEach(func(_, c gjson.Result) bool {
				a.addChoice(c)
				return a.bad == nil
			})
			return a.bad == nil
		}
		if a.lossy == nil {
			a.noteLossy(a.top.mergeField(a.top.field(key), val, ""))
		}
		return true
	})
	return a.bad
}

func (a *Assembler) noteLossy(err error) {
	if err != nil && a.lossy == nil {
		a.lossy = err
	}
}

func (a *Assembler) addChoice(c gjson.Result) {
	idx := c.Get("index")
	if !c.IsObject() || idx.Type != gjson.Number || idx.Num < 0 || idx.Num >= maxChoices || idx.Num != float64(int64(idx.Num)) {
		a.bad = fmt.Errorf("%w: a choice without a valid index", ErrIncomplete)
		return
	}
	var ch *choice
	for _, x := range a.choices {
		if x.index == int64(idx.Num) {
			ch = x
		}
	}
	if ch == nil {
		r := chatChoiceRules
		if a.kind == KindCompletions {
			r = textChoiceRules
		}
		ch = &choice{index: int64(idx.Num), obj: object{rules: r}}
		a.choices = append(a.choices, ch)
	}
	if fr := c.Get("finish_reason"); fr.Type == gjson.String && fr.Str != "" {
		ch.finish = fr.Str
	}
	if a.lossy == nil {
		a.noteLossy(ch.obj.merge(c, "choices."))
	}
}

// FinishReasons returns each choice's finish_reason in index order ("" for
// a choice that has none yet).
func (a *Assembler) FinishReasons() []string {
	out := make([]string, 0, len(a.choices))
	for _, c := range a.sorted() {
		out = append(out, c.finish)
	}
	return out
}

// Complete reports whether the stream so far is a whole answer: at least
// one choice, each with its finish_reason, and no malformed chunk.
func (a *Assembler) Complete() bool {
	if a.bad != nil || a.chunks == 0 || len(a.choices) == 0 {
		return false
	}
	for _, c := range a.choices {
		if c.finish == "" {
			return false
		}
	}
	return true
}

func (a *Assembler) sorted() []*choice {
	cs := slices.Clone(a.choices)
	slices.SortFunc(cs, func(x, y *choice) int { return int(x.index - y.index) })
	return cs
}

// Result returns the JSON answer the stream stands for. It fails with
// ErrIncomplete when the stream is not a whole answer, and with ErrLossy
// when a field cannot be carried over.
func (a *Assembler) Result() ([]byte, error) {
	if !a.Complete() {
		if a.bad != nil {
			return nil, a.bad
		}
		return nil, fmt.Errorf("%w: a choice has no finish_reason", ErrIncomplete)
	}
	if a.lossy != nil {
		return nil, a.lossy
	}
	b := make([]byte, 0, 512)
	b = append(b, '{')
	n := 0
	sep := func() {
		if n > 0 {
			b = append(b, ',')
		}
		n++
	}
	for _, key := range a.seen {
		switch key {
		case "object":
			sep()
			b = append(b, `"object":`...)
			if a.kind == KindCompletions {
				b = append(b, `"text_completion"`...)
			} else {
				b = append(b, `"chat.completion"`...)
			}
		case "choices":
			sep()
			b = append(b, `"choices":[`...)
			for i, c := range a.sorted() {
				if i > 0 {
					b = append(b, ',')
				}
				b = c.appendJSON(b, a.kind)
			}
			b = append(b, ']')
		default:
			f := a.top.field(key)
			if f.rule == ruleDrop || !f.set {
				continue
			}
			sep()
			b = appendString(b, key)
			b = append(b, ':')
			b = f.appendValue(b)
		}
	}
	return append(b, '}'), nil
}

// appendJSON writes a choice of the JSON answer: its "delta" becomes
// "message" (chat).
func (c *choice) appendJSON(b []byte, kind string) []byte {
	b = append(b, '{')
	for i, f := range c.obj.fields {
		if i > 0 {
			b = append(b, ',')
		}
		key := f.key
		if key == "delta" && kind == KindChat {
			key = "message"
		}
		b = appendString(b, key)
		b = append(b, ':')
		b = f.appendValue(b)
	}
	return append(b, '}')
}

// Assemble folds a whole stream's chunks into its JSON answer.
func Assemble(kind string, chunks [][]byte) ([]byte, error) {
	a := NewAssembler(kind)
	for _, c := range chunks {
		if err := a.Add(c); err != nil {
			return nil, err
		}
	}
	return a.Result()
}
