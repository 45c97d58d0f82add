package use

import (
	"context"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// prompts30 are 30-word prompts of the kind the cache sees.
var prompts30 = []string{
	"How do I reset my password if I forgot the email address associated with my account and cannot access the phone number that I used when I first signed up?",
	"Can you explain the difference between a process and a thread in operating systems, and give an example of when I should prefer one over the other in real practice?",
	"Write a short, friendly email to my landlord asking whether the broken heating in the living room can be repaired before the weekend, because the nights are getting very cold.",
	"What are the main causes of inflation in a modern economy, and how do central banks respond when prices rise faster than their target for several months in a row?",
	"I am planning a three day trip to Rome in October with two children; which museums, parks and restaurants would you recommend, and how should we get around the city?",
	"Summarize the plot of Pride and Prejudice in a few sentences, focusing on how Elizabeth and Mr Darcy change their opinions of each other over the course of the novel.",
	"My Go program panics with a nil map assignment error when I add a key inside a loop; what does this error mean and how do I fix it quickly?",
	"Translate the following sentence into French and German, keeping the tone very polite and formal: we regret to inform you that the meeting has been moved to next Tuesday afternoon.",
}

// BenchmarkEmbed30Words embeds one 30-word prompt per call on the calling
// goroutine (run with -cpu 1) and reports the latency's percentiles, for
// each kind of kernel this CPU runs (bfloat16, where it has AVX512_BF16,
// and float32).
func BenchmarkEmbed30Words(b *testing.B) {
	for _, k := range kernelKinds(b) {
		b.Run(k.name, func(b *testing.B) { benchEmbed30(b, k.e) })
	}
}

func benchEmbed30(b *testing.B, e *Embedder) {
	in := make([][]string, len(prompts30))
	for i, p := range prompts30 {
		in[i] = []string{p}
	}
	runtime.LockOSThread() // for the thread CPU time
	defer runtime.UnlockOSThread()
	lat := make([]time.Duration, 0, 1024)
	cpu := make([]time.Duration, 0, 1024)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c0, ok := threadCPU()
		t0 := time.Now()
		if _, err := e.Embed(context.Background(), in[i%len(in)]); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		if c1, ok1 := threadCPU(); ok && ok1 {
			cpu = append(cpu, c1-c0)
		}
		i++
	}
	reportPercentiles(b, lat, "")
	reportPercentiles(b, cpu, "cpu-")
}

// reportPercentiles reports the median and 99th percentile of d in ms.
func reportPercentiles(b *testing.B, d []time.Duration, prefix string) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[len(d)/2].Microseconds())/1000, prefix+"p50-ms")
	b.ReportMetric(float64(d[len(d)*99/100].Microseconds())/1000, prefix+"p99-ms")
}

// BenchmarkEmbedBatch64 embeds 64 different prompts per call with the
// default Options (all cores).
func BenchmarkEmbedBatch64(b *testing.B) {
	e, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	texts := make([]string, 64)
	for i := range texts {
		w := strings.Fields(prompts30[i%len(prompts30)])
		texts[i] = strings.Join(w[i%7:], " ") // vary the texts
	}
	b.ReportAllocs()
	c0, ok := processCPU()
	for b.Loop() {
		if _, err := e.Embed(context.Background(), texts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "texts/s")
	if c1, ok1 := processCPU(); ok && ok1 {
		// Texts per second of CPU: what a core gives when not shared.
		b.ReportMetric(float64(64*b.N)/(c1-c0).Seconds(), "texts/cpu-s")
	}
}

func BenchmarkTokenize30Words(b *testing.B) {
	e, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	var st tokState
	var ids []int32
	b.ReportAllocs()
	for b.Loop() {
		ids = e.w.tok.encode(ids[:0], prompts30[0], &st)
	}
}

func TestPromptTokens(t *testing.T) {
	e, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range prompts30 {
		if n := len(strings.Fields(p)); n != 30 {
			t.Errorf("%d words: %.40q", n, p)
		}
		t.Logf("%d tokens: %.40q", len(e.Tokenizer().Encode(nil, p)), p)
	}
}
func BenchmarkDecodeWeights(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decode(weightFile, useBF16); err != nil {
			b.Fatal(err)
		}
	}
}
