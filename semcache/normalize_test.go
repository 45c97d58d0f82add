package semcache

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNormalizeFormattingVariantsAgree(t *testing.T) {
	groups := [][]string{
		{"What is Go?", "  what is go ?? ", "WHAT IS GO", "what is go", "What is Go!!!", "What\tis\nGo?", "What is Go.", "what  is  go ?!"},
		{"“Quoted” text", "\"quoted\" TEXT", "\u201cQuoted\u201d   text."},
		{"it’s fine", "it's fine", "IT\u2018S FINE"},
		{"a—b – c", "a-b - c", "a\u2212b \u2010 c"},
		{"wait…", "wait..."},
		{"Ｈｅｌｌｏ　ｗｏｒｌｄ", "hello world"},
		{"Straße", "STRASSE", "strasse"},
		{"zero\u200bwidth", "zerowidth"},
		{"hello , world", "hello, world", "Hello,  world!"},
		{"note : this", "note: this"},
		{"first line\nsecond line", "first line second line"},
		{"x = 1;", "x = 1 ;", "X = 1;"},
	}
	for _, g := range groups {
		want := Normalize(g[0])
		for _, s := range g[1:] {
			if got := Normalize(s); got != want {
				t.Errorf("Normalize(%q) = %q, want %q (as for %q)", s, got, want, g[0])
			}
		}
	}
}

func TestNormalizeKeepsMeaning(t *testing.T) {
	pairs := [][2]string{
		{"3.5", "35"},
		{"3.5", "3,5"},
		{"-5", "5"},
		{"x-5", "x 5"},
		{"C++", "C"},
		{"C++", "C#"},
		{"a->b", "a b"},
		{"a->b", "a-b"},
		{"x != y", "x = y"},
		{"x != y", "x y"},
		{"a ?? b", "a ? b"},
		{"!!x", "!x"},
		{"foo :bar", "foo bar"},
		{"foo :bar", "foo: bar"},
		{"git add .", "git add"},
		{"cd ..", "cd"},
		{"cd ..", "cd ."},
		{"what is 5!", "what is 5"},
		{`say "hi"`, "say hi"},
		{`say "hi"`, "say 'hi'"},
		{"version 1.2.3", "version 1.23"},
		{"if x:\n    y\nz", "if x:\n    y\n    z"},
		{"what is go", "what is go2"},
		{"a_b", "a b"},
		{"100%", "100"},
		{"$5", "5"},
		{"2^10", "210"},
		{"why", "why not"},
	}
	for _, p := range pairs {
		a, b := Normalize(p[0]), Normalize(p[1])
		if a == b {
			t.Errorf("Normalize(%q) == Normalize(%q) == %q; they mean different things", p[0], p[1], a)
		}
	}
}

func TestNormalizeExamples(t *testing.T) {
	cases := map[string]string{
		"  What is Go ?? ":               "what is go",
		"Explain C++.":                   "explain c++",
		"Is 3.5 > 3?":                    "is 3.5 > 3",
		"Really?!?! Yes":                 "really?!?! yes",
		"Why?? Because":                  "why? because",
		"git add .":                      "git add .",
		"cd .. ":                         "cd ..",
		"what is 5!?":                    "what is 5!",
		"def f():\n    return 1\n":       "def f():\n    return 1",
		"hello \r\n  world":              "hello\n  world",
		"tab\tseparated":                 "tab separated",
		"ｘ＝１":                            "x=1",
		"\x00ctrl\x01chars\x7f":          "ctrl chars",
		"":                               "",
		" ?!. ":                          "",
		"Use `foo_bar()` — not `foo()`…": "use `foo_bar()` - not `foo()`",
	}
	for in, want := range cases {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeInvalidUTF8(t *testing.T) {
	got := Normalize("ab\xffcd\xc3")
	if !utf8.ValidString(got) {
		t.Fatalf("invalid UTF-8 output %q", got)
	}
	if Normalize(got) != got {
		t.Fatalf("not idempotent on %q", got)
	}
}

func TestNormalizeIdempotentCorpus(t *testing.T) {
	inputs := []string{
		"e\u200b\u0301", "A\u0308\u200b", "\u1e9b\u0323", "ﬁ ﬂ", "Ǆ ǅ ǆ", "ΣΑΣ σας",
		"İstanbul", "K \u212a", "\u2126", "x \u0301", " \u0301x", "5 !", "a , ?", "go? .",
		"end . .", "x\n\t.", "x\n  .?", "!!!", "...", ". . .", "a ..?", "\u0345\u0399",
		"ﬀ\u0301", "\u1fd3\u0301", "\uFE31 \u2011", "\u3000a\u3000", "“”‘’", "1\u00a0000",
	}
	for _, s := range inputs {
		n := Normalize(s)
		if n2 := Normalize(n); n2 != n {
			t.Errorf("Normalize not idempotent on %q: %q then %q", s, n, n2)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"What is Go?", "  what is go ?? ", "C++ a->b x != y", "3.5 -5", "cd ..", "“x” — y…",
		"if x:\n    y\n", "Straße", "e\u200b\u0301", "ｘ＝１", "a ?? b", "5!", "\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := Normalize(s)
		if !utf8.ValidString(n) {
			t.Fatalf("Normalize(%q) = %q: invalid UTF-8", s, n)
		}
		if n2 := Normalize(n); n2 != n {
			t.Fatalf("Normalize not idempotent on %q: %q then %q", s, n, n2)
		}
		if strings.TrimSpace(n) != n {
			t.Fatalf("Normalize(%q) = %q: untrimmed", s, n)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	for _, bc := range []struct{ name, s string }{
		{"ascii", "  How do I turn on two-factor authentication for my GitHub account?? "},
		{"unicode", "Wie schalte ich die Zwei-Faktor-Authentifizierung für mein Konto ein — „schnell“?"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Normalize(bc.s)
			}
		})
	}
}

func ExampleNormalize() {
	fmt.Println(Normalize("  What is Go ?? "))
	fmt.Println(Normalize("WHAT IS GO"))
	fmt.Println(Normalize("Is “3.5” > -3…?"))
	// Output:
	// what is go
	// what is go
	// is "3.5" > -3
}
