package tokens

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestCountSegmented: ordinary text counts as if encoded whole; a long run
// without white space counts within a few percent, in linear time.
func TestCountSegmented(t *testing.T) {
	tk, err := get(O200K)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i := 0; b.Len() < 50_000; i++ {
		b.WriteString("The quick brown fox jumps over the lazy dog, ")
		if i%7 == 0 {
			b.WriteString("\n\n  indented line\twith tabs ")
		}
	}
	text := b.String()
	if got, want := Count("gpt-4o", text), len(tk.EncodeOrdinary(text)); got != want {
		t.Fatalf("ordinary text: %d tokens, whole %d", got, want)
	}
	run := strings.Repeat("xyzzy", 1600) // 8000 bytes without white space
	got, want := Count("gpt-4o", run), len(tk.EncodeOrdinary(run))
	if d := got - want; d < 0 || d > want/20+1 {
		t.Fatalf("long run: %d tokens, whole %d", got, want)
	}
	var seen strings.Builder
	for seg := range segments("héllo wörld " + strings.Repeat("é", 300)) {
		if !utf8.ValidString(seg) {
			t.Fatalf("segment cut inside a rune: %q", seg)
		}
		seen.WriteString(seg)
	}
	if seen.String() != "héllo wörld "+strings.Repeat("é", 300) {
		t.Fatal("segments lose text")
	}
}

// BenchmarkCountLongRun: 400 KB without white space (minutes whole).
func BenchmarkCountLongRun(b *testing.B) {
	text := strings.Repeat("x", 400_000)
	Count("gpt-4o", "warm up")
	b.ResetTimer()
	for range b.N {
		Count("gpt-4o", text)
	}
}
