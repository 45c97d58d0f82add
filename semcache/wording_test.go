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

func TestOptionsValidateReportsAll(t *testing.T) {
	o := Options{Threshold: 2, Candidates: 100}
	o.Verify.MaxEdits = -1
	err := o.Validate()
	if err == nil || !strings.Contains(err.Error(), "candidates") || !strings.Contains(err.Error(), "threshold") || !strings.Contains(err.Error(), "verify: max_edits") {
		t.Fatalf("Validate() = %v, want every problem", err)
	}
}
