package jsonx

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\s", "\x00\x1f\n\r\t", "\xff\xfe", "\u2028\u2029", "é🙂<>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString([]byte("x"), s)
		var got string
		if err := json.Unmarshal(out[1:], &got); err != nil {
			t.Fatalf("%q -> invalid JSON %s: %v", s, out, err)
		}
		if utf8.ValidString(s) && got != s {
			t.Fatalf("%q round-tripped to %q", s, got)
		}
	})
}
