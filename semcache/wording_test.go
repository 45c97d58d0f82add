package semcache

import (
	"strings"
	"testing"
)

func TestSameWords(t *testing.T) {
	same := [][2]string{
		{"How do you avoid wasting time?", "How do I avoid wasting time"},
		{"What are the basic functions of an engine?", "What are basic functions of engine"},
		{"What is the name of the plant?", "What is the name of this plant?"},
		{"What are some good movies", "what are some good movie?"},
		{"Which countries have the best universities?", "Which country has the best university"},
		{"How do I fix boxes", "how do i fix box"},
		{"Où est la gare ?", "où EST la gare"},
	}
	differ := [][2]string{
		{"Why is the sky blue?", "How is the sky blue?"},
		{"What is the best way to brew tea?", "What is the best way to drink brewed tea?"},
		{"Can I learn Go?", "Should I learn Go?"},
		{"Is it safe?", "Is it not safe?"},
		{"top 5 movies", "top 10 movies"},
		{"What is a being verb?", "What is a verb?"},
		{"Why do Poles dislike Russians?", "Why do Russians dislike Poles?"},
		{"What happened to the party?", "What is happening to the party?"},
		{"bus routes", "bu routes"},
		{"hello", ""},
		{"", "the a an"},
		{"Is it?", "Was it?"},
	}
	for _, c := range same {
		if !SameWords(c[0], c[1]) || !SameWords(c[1], c[0]) {
			t.Errorf("SameWords(%q, %q) = false, want true", c[0], c[1])
		}
	}
	for _, c := range differ {
		if SameWords(c[0], c[1]) || SameWords(c[1], c[0]) {
			t.Errorf("SameWords(%q, %q) = true, want false", c[0], c[1])
		}
	}
}

func FuzzSameWords(f *testing.F) {
	f.Add("How do you avoid wasting time?", "How do I avoid wasting time")
	f.Add("ÉCOLES", "école")
	f.Fuzz(func(t *testing.T, a, b string) {
		if SameWords(a, b) != SameWords(b, a) {
			t.Fatalf("not symmetric for %q, %q", a, b)
		}
		if w, _ := nextContentWord(a); w != "" && !SameWords(a, a) {
			t.Fatalf("%q is not the same words as itself", a)
		}
	})
}

func TestOptionsSameWordsMargin(t *testing.T) {
	bad, zero, half := 0.7, 0.0, 0.5
	o := Options{SameWordsMargin: &bad, Threshold: 2}
	err := o.Validate()
	if err == nil || !strings.Contains(err.Error(), "same_words_margin") || !strings.Contains(err.Error(), "threshold") {
		t.Fatalf("Validate() = %v, want both problems", err)
	}
	for _, c := range []struct {
		m    *float64
		want float64
	}{{nil, 0.97}, {&zero, 0.98}, {&half, 0.48}} {
		o := Options{SameWordsMargin: c.m}
		if err := o.Validate(); err != nil {
			t.Fatal(err)
		}
		if got := o.SameWordsThreshold(0.98); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("margin %v: SameWordsThreshold(0.98) = %v, want %v", c.m, got, c.want)
		}
	}
}
