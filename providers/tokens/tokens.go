// Package tokens counts tokens the way OpenAI's tokenizers do, offline.
//
// Encoders come from github.com/pkoukk/tiktoken-go with the BPE ranks
// embedded by github.com/pkoukk/tiktoken-go-loader: nothing is downloaded
// at run time. Each encoding is built once, on first use (building o200k
// takes a few hundred milliseconds), and shared by every goroutine.
//
// Which encoding a model uses is an explicit table, [EncodingFor]: OpenAI's
// current models use o200k_base, older ones cl100k_base. Anthropic does
// not publish Claude's tokenizer; cl100k_base is used as an approximation
// (Claude's counts run some 10-20% higher). Unknown models get o200k_base.
//
// The gateway counts tokens only when it must: to check a prompt against a
// context window it could exceed (a prompt's byte length is a cheaper upper
// bound that settles most requests, see [Bound]), and to price an answer
// whose upstream reported no usage.
package tokens

import (
	"strings"
	"sync"

	"github.com/pkoukk/tiktoken-go"
	loader "github.com/pkoukk/tiktoken-go-loader"
	"github.com/tidwall/gjson"
)

// Encoding names.
const (
	O200K  = "o200k_base"
	CL100K = "cl100k_base"
)

// Chat formatting overheads, as in OpenAI's cookbook: every message costs
// PerMessage tokens on top of its fields, and the reply is primed with
// PerReply tokens.
const (
	PerMessage = 3
	PerReply   = 3
	// PerImage is what an image part is counted as: one 512x512 tile at
	// high detail plus the base (85 + 170). Real images may cost more.
	PerImage = 255
)

// encodingTable maps model-name prefixes to encodings, longest prefix
// first where prefixes nest. Checked top to bottom.
var encodingTable = []struct{ prefix, enc string }{
	{"gpt-4o", O200K},
	{"chatgpt-4o", O200K},
	{"gpt-4.1", O200K},
	{"gpt-4.5", O200K},
	{"gpt-5", O200K},
	{"gpt-oss", O200K},
	{"o1", O200K},
	{"o3", O200K},
	{"o4", O200K},
	{"gpt-4", CL100K}, // gpt-4, gpt-4-turbo, gpt-4-32k
	{"gpt-3.5", CL100K},
	{"text-embedding-", CL100K},
	{"claude", CL100K}, // approximation: Claude's tokenizer is not public
}

// EncodingFor returns the encoding used to count model's tokens.
func EncodingFor(model string) string {
	for _, e := range encodingTable {
		if strings.HasPrefix(model, e.prefix) {
			return e.enc
		}
	}
	return O200K
}

type encoder struct {
	once sync.Once
	tk   *tiktoken.Tiktoken
	err  error
}

var (
	loaderOnce sync.Once
	encoders   = map[string]*encoder{O200K: {}, CL100K: {}}
)

func get(enc string) (*tiktoken.Tiktoken, error) {
	e := encoders[enc]
	if e == nil {
		e = encoders[O200K]
	}
	e.once.Do(func() {
		loaderOnce.Do(func() { tiktoken.SetBpeLoader(loader.NewOfflineLoader()) })
		e.tk, e.err = tiktoken.GetEncoding(enc)
	})
	return e.tk, e.err
}

// Preload builds the encoders of the given models now rather than on
// first use.
func Preload(models ...string) error {
	for _, m := range models {
		if _, err := get(EncodingFor(m)); err != nil {
			return err
		}
	}
	return nil
}

// Count returns the number of tokens text has in model's encoding. If the
// encoder cannot be built (not expected: the ranks are embedded), it
// returns the estimate len(text)/4 rounded up.
//
// The text is encoded in segments (see segments), so the cost is linear in
// its length: BPE's merge loop is quadratic in the length of one
// pre-tokenized piece, and a 400 KB run without white space would take
// minutes whole. Segments end before white space, where the encoders'
// pre-tokenizers split anyway, so ordinary text is counted exactly; only
// a run of more than maxRun bytes without white space is cut inside,
// which may count a token or so more per cut.
func Count(model, text string) int {
	if text == "" {
		return 0
	}
	tk, err := get(EncodingFor(model))
	if err != nil {
		return (len(text) + 3) / 4
	}
	n := 0
	for seg := range segments(text) {
		n += len(tk.EncodeOrdinary(seg))
	}
	return n
}

// Segment bounds for Count.
const (
	maxSegment = 4 << 10 // end a segment at the next white space past this
	maxRun     = 256     // cut a run without white space this long
)

// segments splits text for Count: at white space once a segment reaches
// maxSegment bytes, and inside any run of maxRun bytes without white
// space (at a rune boundary).
func segments(text string) func(yield func(string) bool) {
	return func(yield func(string) bool) {
		start, run := 0, 0
		for i := 0; i < len(text); i++ {
			c := text[i]
			space := c == ' ' || c == '\n' || c == '\t' || c == '\r'
			if space {
				if i-start >= maxSegment {
					if !yield(text[start:i]) {
						return
					}
					start = i
				}
				run = 0
				continue
			}
			if run++; run > maxRun && c&0xC0 != 0x80 { // a rune starts here
				if !yield(text[start:i]) {
					return
				}
				start, run = i, 1
			}
		}
		if start < len(text) {
			yield(text[start:])
		}
	}
}

// Prompt counts the prompt tokens of an OpenAI request body for endpoint
// "chat", "completions" or "embeddings": messages with their formatting
// overhead, images as PerImage each, tool definitions as their JSON text,
// token arrays as one token per element.
func Prompt(model, endpoint string, body []byte) int {
	return walk(endpoint, body, func(s string) int { return Count(model, s) })
}

// Bound returns an upper bound on Prompt(model, endpoint, body) for any
// model whose encoding is byte-level BPE (every token is at least one
// byte): the text's length in bytes plus the fixed overheads. It costs one
// pass over the body and no tokenization.
func Bound(endpoint string, body []byte) int {
	return walk(endpoint, body, func(s string) int { return len(s) })
}

// walk adds up text(s) over every piece of prompt text in body, plus the
// fixed overheads.
func walk(endpoint string, body []byte, text func(string) int) int {
	n := 0
	switch endpoint {
	case "chat":
		gjson.GetBytes(body, "messages").ForEach(func(_, m gjson.Result) bool {
			n += PerMessage
			m.ForEach(func(k, v gjson.Result) bool {
				switch k.Str {
				case "content":
					if v.Type == gjson.String {
						n += text(v.Str)
						return true
					}
					v.ForEach(func(_, part gjson.Result) bool {
						switch part.Get("type").Str {
						case "text", "input_text":
							n += text(part.Get("text").Str)
						case "image_url", "input_image", "image":
							n += PerImage
						}
						return true
					})
				case "role", "name", "tool_call_id":
					n += text(v.Str)
				case "tool_calls", "function_call":
					n += text(v.Raw)
				}
				return true
			})
			return true
		})
		if t := gjson.GetBytes(body, "tools"); t.Exists() {
			n += text(t.Raw)
		}
		n += PerReply
	case "completions":
		n += textOrTokens(gjson.GetBytes(body, "prompt"), text)
	case "embeddings":
		n += textOrTokens(gjson.GetBytes(body, "input"), text)
	}
	return n
}

// textOrTokens sizes a prompt or input field: a string, an array of
// strings, a token array or an array of token arrays.
func textOrTokens(v gjson.Result, text func(string) int) int {
	if v.Type == gjson.String {
		return text(v.Str)
	}
	n := 0
	v.ForEach(func(_, e gjson.Result) bool {
		switch {
		case e.Type == gjson.String:
			n += text(e.Str)
		case e.IsArray():
			e.ForEach(func(_, _ gjson.Result) bool { n++; return true })
		case e.Type == gjson.Number:
			n++
		}
		return true
	})
	return n
}
