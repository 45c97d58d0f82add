package mock

import (
	"strings"
	"testing"
)

func TestWords(t *testing.T) {
	seen := map[string]bool{}
	for _, w := range baseWords {
		if seen[w] {
			t.Errorf("duplicate word %q", w)
		}
		seen[w] = true
		if len(w) == 0 || len(w) > 6 || strings.Trim(w, "abcdefghijklmnopqrstuvwxyz") != "" {
			t.Errorf("word %q: want 1-6 lower-case letters", w)
		}
	}
}

func TestCountTokens(t *testing.T) {
	for _, tt := range []struct {
		s    string
		want int
	}{
		{"", 0},
		{"hello", 1},
		{"hello world", 2},
		{"Hello, world!", 4},
		{"internationalization", 5}, // 20 letters
		{"abcdefg", 1},
		{"abcdefgh", 2},
		{"a\n\nb", 3},
		{"  spaced   out  ", 2},
		{"日本語", 3},
		{"naïve", 3}, // na, ï, ve
		{`{"a":1}`, 7},
	} {
		if got := countTokens(tt.s); got != tt.want {
			t.Errorf("countTokens(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
}

func TestTextGen(t *testing.T) {
	c, err := newCore(Options{MinTokens: 1, MaxTokens: 300})
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(300) {
		h := mix64(seed)
		natural := c.naturalLen(h)
		g := newTextGen(h, natural, 0)
		var text []byte
		for !g.done() {
			before := len(text)
			text = g.appendNext(text)
			if n := countTokens(string(text[before:])); n != 1 {
				t.Fatalf("token %q counts %d", text[before:], n)
			}
		}
		s := string(text)
		if countTokens(s) != natural || g.finish() != "stop" {
			t.Fatalf("%q: %d tokens, natural %d", s, countTokens(s), natural)
		}
		if natural > 5 && (!strings.HasSuffix(s, ".") || strings.Contains(s, "..") || strings.Contains(s, ",.") || strings.Contains(s, ",,")) {
			t.Fatalf("punctuation: %q", s)
		}
		if strings.ContainsAny(s, "\"\\\n") {
			t.Fatalf("needs escaping: %q", s)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain", `"plain"`},
		{"q\"b\\", `"q\"b\\"`},
		{"a\nb\tc\r\x01", `"a\nb\tc\r\u0001"`},
		{"é日", `"é日"`},
		{"bad\xffutf8", `"bad\ufffdutf8"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
	} {
		if got := string(appendJSONString(nil, tt.in)); got != tt.want {
			t.Errorf("%q: got %s, want %s", tt.in, got, tt.want)
		}
	}
}
