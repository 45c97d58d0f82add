package embed

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// prompt1KB is a realistic 1 KB English prompt.
var prompt1KB = func() string {
	const p = "I am building a small web service in Go that accepts JSON requests, " +
		"validates them, stores the results in PostgreSQL and returns a summary to the caller. " +
		"The handler sometimes takes several seconds under load and I do not understand why. " +
		"Could you explain how to profile the service with pprof, which metrics I should look at first, " +
		"and how to tell whether the database connection pool is the bottleneck? " +
		"Please also suggest sensible timeouts for the HTTP server and the database driver, " +
		"and show a short example of structured logging with log/slog that includes the request id. "
	s := strings.Repeat(p, 3)
	return s[:1024]
}()

// promptUnicode1KB is 1 KB of mixed-script text that needs NFKC.
var promptUnicode1KB = func() string {
	const p = "Ｃａｆé crème brûlée — 東京の天気はどうですか？ Привет, как дела? ﬁnal ﬂag Ⅻ naïve résumé "
	s := strings.Repeat(p, 20)
	for len(s) > 1024 {
		_, n := lastRune(s)
		s = s[:len(s)-n]
	}
	return s
}()

func lastRune(s string) (rune, int) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i]&0xC0 != 0x80 {
			return rune(s[i]), len(s) - i
		}
	}
	return 0, 1
}

func benchLexical(b *testing.B, text string) {
	l, err := NewLexical(0, LexicalOptions{})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	in := []string{text}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Embed(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLexical1KB: one 1 KB English prompt per Embed call.
func BenchmarkLexical1KB(b *testing.B) { benchLexical(b, prompt1KB) }

// BenchmarkLexicalUnicode1KB: 1 KB of text needing NFKC normalization.
func BenchmarkLexicalUnicode1KB(b *testing.B) { benchLexical(b, promptUnicode1KB) }

// BenchmarkLexicalShort: a typical one-line question.
func BenchmarkLexicalShort(b *testing.B) {
	benchLexical(b, "How do I reset my password on the website?")
}

// BenchmarkLexical1KBLatency reports the p50 and p99 of single 1 KB Embed
// calls, each timed on its own: wall time (includes ~100 ns of clock reads
// and any time the thread was preempted) and, on Linux, the thread's CPU
// time, which a busy machine does not inflate.
func BenchmarkLexical1KBLatency(b *testing.B) {
	l, err := NewLexical(0, LexicalOptions{})
	if err != nil {
		b.Fatal(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ctx := context.Background()
	in := []string{prompt1KB}
	wall := make([]time.Duration, 0, 1<<16)
	cpu := make([]time.Duration, 0, 1<<16)
	for b.Loop() {
		c0, ok := threadCPUTime()
		t0 := time.Now()
		if _, err := l.Embed(ctx, in); err != nil {
			b.Fatal(err)
		}
		wall = append(wall, time.Since(t0))
		if c1, _ := threadCPUTime(); ok {
			cpu = append(cpu, c1-c0)
		}
	}
	pct := func(d []time.Duration, p int) float64 {
		slices.Sort(d)
		return float64(d[(len(d)-1)*p/100].Nanoseconds())
	}
	b.ReportMetric(pct(wall, 50), "p50-ns")
	b.ReportMetric(pct(wall, 99), "p99-ns")
	if len(cpu) > 0 {
		b.ReportMetric(pct(cpu, 50), "p50-cpu-ns")
		b.ReportMetric(pct(cpu, 99), "p99-cpu-ns")
	}
}

// BenchmarkCachedHit: a 1 KB prompt answered by the LRU cache.
func BenchmarkCachedHit(b *testing.B) {
	l, err := NewLexical(0, LexicalOptions{})
	if err != nil {
		b.Fatal(err)
	}
	c := NewCached(l, 100)
	ctx := context.Background()
	in := []string{prompt1KB}
	if _, err := c.Embed(ctx, in); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Embed(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
