package semcache

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestGuardRejects(t *testing.T) {
	g := NewGuard(GuardOptions{})
	cases := []struct{ a, b, reason string }{
		{"enable 2FA", "disable 2FA", GuardNegation},
		{"How do I enable 2FA on GitHub?", "How do I disable 2FA on GitHub?", GuardNegation},
		{"top 5 movies of 2023", "top 10 movies of 2023", GuardNumbers},
		{"best laptops in 2023", "best laptops in 2024", GuardNumbers},
		{"top five movies", "top ten movies", GuardNumbers},
		{"the 3rd largest city", "the 4th largest city", GuardNumbers},
		{"the third largest city", "the fourth largest city", GuardNumbers},
		{"python 3.11 features", "python 3.12 features", GuardNumbers},
		{"what is -5 squared", "what is 5 squared", GuardNumbers},
		{"price over 1,000 dollars", "price over 1,500 dollars", GuardNumbers},
		{"convert miles to km", "convert km to miles", GuardOrder},
		{"translate English to French", "translate French to English", GuardOrder},
		{"Is Python faster than Java?", "Is Java faster than Python?", GuardOrder},
		{"python vs java", "java vs python", GuardOrder},
		{"Are cats afraid of tigers?", "Are tigers afraid of cats?", GuardOrder},
		{"Do Indian women find Pakistani men attractive?", "Do Pakistani women find Indian men attractive?", GuardOrder},
		{"Why do Poles dislike Russians?", "Why do Russians dislike Poles?", GuardOrder},
		{"Can data science graduates apply for psychology?", "Can psychology graduates apply for data science?", GuardOrder},
		{"What do Americans think of the Chinese?", "What do the Chinese think of Americans?", GuardOrder},
		{"pros and cons of eating bean curd over tofu", "pros and cons of eating tofu over bean curd", GuardOrder},
		{"does the dog chase the cat", "does the cat chase the dog", GuardOrder},
		{"price in USD", "price in EUR", GuardEntities},
		{"What is the capital of France, Paris or Lyon?", "What is the capital of France, Rome or Lyon?", GuardEntities},
		{"How do I deploy to AWS?", "How do I deploy to GCP?", GuardEntities},
		{"Python is faster than Go?", "Ruby is faster than Go?", GuardEntities},
		{"coffee without sugar", "coffee with sugar", GuardNegation},
		{"why is the sky blue", "why is the sky not blue", GuardNegation},
		{"why doesn't my code compile", "why does my code compile", GuardNegation},
		{"sort ascending", "sort descending", GuardNegation},
		{"how to lock a file", "how to unlock a file", GuardNegation},
		{"how to install numpy", "how to uninstall numpy", GuardNegation},
		{"is it safe to eat", "is it unsafe to eat", GuardNegation},
		{"show hidden files", "hide hidden files", GuardNegation},
		{"increase the font size", "decrease the font size", GuardNegation},
		{"turn on dark mode", "turn off dark mode", GuardNegation},
		{`what does "foo" mean`, `what does "bar" mean`, GuardQuotes},
		{"what does 'foo' mean", "what does 'bar' mean", GuardQuotes},
		{"what does `foo` do", "what does `bar` do", GuardQuotes},
		{"what is user_id", "what is user_name", GuardIdentifiers},
		{"what does getUserName return", "what does getUserId return", GuardIdentifiers},
		{"what does os.path.join do", "what does os.path.split do", GuardIdentifiers},
		{"what does git push --force do", "what does git push --force-with-lease do", GuardIdentifiers},
		{"read /etc/hosts", "read /etc/passwd", GuardIdentifiers},
		{"is python3 installed", "is python2 installed", GuardIdentifiers},
		{"what is C++ used for", "what is C# used for", GuardIdentifiers},
		{"explain x != y", "explain x == y", GuardIdentifiers},
		// Numbers after a currency symbol.
		{"best phone under ₹15,000", "best phone under ₹20,000", GuardNumbers},
		{"a ticket for €5", "a ticket for €50", GuardNumbers},
		// A run of quote marks opens and closes one quote.
		{`What does ""shimatta"" mean?`, `What does ""sai"" mean?`, GuardQuotes},
		// Antonyms of comparison and of people.
		{"Which carrier has the shortest waiting period?", "Which carrier has the longest waiting period?", GuardNegation},
		{"Who is the richest professor at MIT?", "Who is the poorest professor at MIT?", GuardNegation},
		{"What attracts introverted men?", "What attracts introverted women?", GuardNegation},
		{"What is the least useful thing you bought?", "What is the most useful thing you bought?", GuardNegation},
		{"How do I keep my boyfriend happy?", "How do I keep my girlfriend happy?", GuardNegation},
		{"Is it legal to record a phone call?", "Is it illegal to record a phone call?", GuardNegation},
		// Words the English embedders cannot read.
		{"What does 심하잖아 mean?", "What does 任せてほしい mean?", GuardScript},
		{"How do I translate 意思意思 into English?", "How do I translate 扣帽子 into English?", GuardScript},
		{"Что такое любовь?", "Что такое жизнь?", GuardScript},
	}
	for _, c := range cases {
		for _, pair := range [][2]string{{c.a, c.b}, {c.b, c.a}} {
			ok, reason := g.Check(pair[0], pair[1])
			if ok || reason != c.reason {
				t.Errorf("Check(%q, %q) = %v, %q; want reject by %q", pair[0], pair[1], ok, reason, c.reason)
			}
		}
	}
}

func TestGuardAllows(t *testing.T) {
	g := NewGuard(GuardOptions{})
	cases := [][2]string{
		// Not the guard's business: the embedder threshold decides.
		{"How do I delete a branch in git", "How do I delete a tag in git"},
		{"what is the best way to learn cooking", "what is the best way to learn painting"},
		{"how do I bake bread", "how do I bake a cake"},
		// Paraphrases with the same content.
		{"How do I turn on two-factor authentication?", "How can I turn on two factor authentication?"},
		{"What is the capital of France?", "what's the capital of France"},
		{"How do I enable 2FA?", "how can i enable 2FA"},
		{"top 5 movies", "the top 5 films"},
		{"top five movies", "top 5 movies"},
		{"Why doesn't my code compile?", "Why does my code not compile?"},
		{"How to convert miles to km", "How do I convert miles to km"},
		{"How to go from Paris to Rome", "How do I get to Rome from Paris"},
		{"Which one is better, Python or Go?", "Which is better, Python or Go?"},
		// Case and punctuation variants.
		{"What is Go?", "what is go"},
		{"WHAT IS GO", "What is Go?!"},
		{"What does “foo” mean?", `what does "foo" mean`},
		{"What does \"Foo\" mean?", `what does "foo" mean`},
		{"what is user_id", "What is user_id?"},
		{"Explain GitHub Actions", "explain github actions"},
		// Reordered clauses without direction words.
		{"In Go, how do I read a file?", "How do I read a file in Go?"},
		{"How do I read a file in Python quickly?", "Quickly, how do I read a file in Python?"},
		{"Why is the sky blue during the day", "During the day, why is the sky blue"},
		// Exchanges around a coordination, or of adjacent spans.
		{"Where do religion and science meet?", "Where do science and religion meet?"},
		{"What is the difference between a connotation and a denotation?", "What is the difference between denotation and connotation?"},
		{"What is the difference between real gas and ideal gas?", "What is the difference between an ideal gas and a real gas?"},
		{"How can I get a girlfriend if I am shy and socially awkward?", "How can I get a girlfriend if I am socially awkward and shy?"},
		{"Should I choose my girlfriend or overseas education?", "Should I choose my overseas education or girlfriend?"},
		{"How can I earn money easily online?", "How can I earn money online easily?"},
		// A quoted text against the same text unquoted.
		{`Is Marxism a ""practical philosophy""?`, "Is Marxism a practical philosophy?"},
		{"What is the difference between infatuation and real love?", `What is the difference between infatuation and "real love"?`},
		// The same foreign words, and prices written the same way.
		{"What does 心中 mean?", "What is the meaning of 心中?"},
		{"best phone under ₹15,000", "the best phone under ₹15,000"},
	}
	for _, c := range cases {
		for _, pair := range [][2]string{{c[0], c[1]}, {c[1], c[0]}} {
			if ok, reason := g.Check(pair[0], pair[1]); !ok {
				t.Errorf("Check(%q, %q) rejected by %q; want allowed", pair[0], pair[1], reason)
			}
		}
	}
}

func TestGuardNormalizeEqualPromptsAllowed(t *testing.T) {
	g := NewGuard(GuardOptions{})
	prompts := []string{
		"What is Go?", "Is Python faster than Java?", "convert 5 miles to km", `what does "foo" mean`,
		"How do I enable 2FA on AWS?", "Explain user_id vs userName in os.path", "why doesn't it work",
		"Top 10 movies of 2023", "translate English to French", "What is C++ — really?",
	}
	variants := func(s string) []string {
		return []string{strings.ToUpper(s), strings.ToLower(s), "  " + s + " ?? ", strings.ReplaceAll(s, " ", "  "), s + "!!!"}
	}
	for _, p := range prompts {
		for _, v := range variants(p) {
			if Normalize(v) != Normalize(p) {
				continue // not a formatting-only variant
			}
			if ok, reason := g.Check(p, v); !ok {
				t.Errorf("Check(%q, %q) rejected by %q, yet both normalize to %q", p, v, reason, Normalize(p))
			}
		}
	}
}

func TestGuardOptions(t *testing.T) {
	a, b := "top 5 movies", "top 10 movies"
	if ok, _ := NewGuard(GuardOptions{Disabled: true}).Check(a, b); !ok {
		t.Error("disabled guard rejected")
	}
	if ok, _ := NewGuard(GuardOptions{IgnoreNumbers: true}).Check(a, b); !ok {
		t.Error("IgnoreNumbers guard rejected a numbers-only difference")
	}
	if ok, _ := NewGuard(GuardOptions{IgnoreNegation: true}).Check(a, b); ok {
		t.Error("IgnoreNegation turned off the numbers rule")
	}
	for _, c := range []struct {
		o    GuardOptions
		a, b string
	}{
		{GuardOptions{IgnoreNegation: true}, "enable it", "disable it"},
		{GuardOptions{IgnoreQuotes: true}, `say "a"`, `say "b"`},
		{GuardOptions{IgnoreIdentifiers: true}, "user_id", "user_name"},
		{GuardOptions{IgnoreEntities: true}, "price in USD", "price in EUR"},
		{GuardOptions{IgnoreOrder: true}, "miles to km", "km to miles"},
	} {
		if ok, reason := NewGuard(c.o).Check(c.a, c.b); !ok {
			t.Errorf("%+v: Check(%q, %q) rejected by %q", c.o, c.a, c.b, reason)
		}
	}
	var nilGuard *Guard
	if ok, _ := nilGuard.Check(a, b); ok {
		t.Error("nil guard should check with defaults")
	}
	if err := (GuardOptions{}).Validate(); err != nil {
		t.Error(err)
	}
}

func FuzzGuardCheck(f *testing.F) {
	f.Add("enable 2FA", "disable 2FA")
	f.Add(`what does "foo" mean`, "what's 'foo'?")
	f.Add("convert 1,000 miles to km", "-5.5 x_y `a` C++ --f ../p 3rd")
	f.Add("\xff\u2019\u201c", "ｘ＝１ İ")
	f.Add("Are cats afraid of tigers?", "Are tigers afraid of cats?")
	f.Add("In Go, how do I read a file?", "How do I read a file in Go?")
	g := NewGuard(GuardOptions{})
	f.Fuzz(func(t *testing.T, a, b string) {
		ok1, r1 := g.Check(a, b)
		ok2, r2 := g.Check(b, a)
		if ok1 != ok2 || r1 != r2 {
			t.Fatalf("not symmetric: (%v %q) vs (%v %q)", ok1, r1, ok2, r2)
		}
		if ok1 != (r1 == "") {
			t.Fatalf("ok %v with reason %q", ok1, r1)
		}
		if ok, _ := g.Check(a, a); !ok {
			t.Fatalf("rejected a prompt against itself")
		}
	})
}

// TestGuardQQP measures the guard on Quora Question Pairs (label 1:
// duplicates, label 0: not) when the shared data set is present.
func TestGuardQQP(t *testing.T) {
	f, err := os.Open("../../shared/data/qqp_dev.jsonl")
	if err != nil {
		f, err = os.Open("../shared/data/qqp_dev.jsonl")
	}
	if err != nil {
		t.Skip("qqp_dev.jsonl not present")
	}
	defer f.Close()
	g := NewGuard(GuardOptions{})
	var n [2]int
	var allowed [2]int
	reasons := map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && n[0]+n[1] < 5000 {
		var p struct {
			A, B  string
			Label int
		}
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil || (p.Label != 0 && p.Label != 1) {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		n[p.Label]++
		ok, reason := g.Check(p.A, p.B)
		if ok {
			allowed[p.Label]++
		} else if p.Label == 1 {
			reasons[reason]++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n[0] == 0 || n[1] == 0 {
		t.Skip("qqp_dev.jsonl has too few pairs")
	}
	allow1 := float64(allowed[1]) / float64(n[1])
	reject0 := 1 - float64(allowed[0])/float64(n[0])
	reject1 := 1 - allow1
	t.Logf("qqp: %d duplicates, guard allows %.1f%%; %d non-duplicates, guard rejects %.1f%%; duplicate rejections by rule %v",
		n[1], 100*allow1, n[0], 100*reject0, reasons)
	if reject0 <= reject1 {
		t.Errorf("the guard rejects non-duplicates (%.1f%%) no more often than duplicates (%.1f%%)", 100*reject0, 100*reject1)
	}
}

var guardBenchPairs = [][2]string{
	{"How do I turn on two-factor authentication for my GitHub account?", "How can I enable 2FA on my GitHub account?"},
	{"Is Python faster than Java for web servers in 2024?", "Is Java faster than Python for web servers in 2024?"},
	{"What does `os.path.join` do with an absolute path like /etc/hosts?", "What does os.path.join do with absolute paths?"},
}

func BenchmarkGuardCheck(b *testing.B) {
	g := NewGuard(GuardOptions{})
	b.ReportAllocs()
	for b.Loop() {
		for _, p := range guardBenchPairs {
			g.Check(p[0], p[1])
		}
	}
}

func ExampleGuard_Check() {
	g := NewGuard(GuardOptions{})
	fmt.Println(g.Check("enable 2FA on GitHub", "disable 2FA on GitHub"))
	fmt.Println(g.Check("top 5 movies", "top 10 movies"))
	fmt.Println(g.Check("convert miles to km", "convert km to miles"))
	fmt.Println(g.Check("How do I turn on two-factor authentication?", "How can I turn on two factor authentication?"))
	// Output:
	// false negation
	// false numbers
	// false order
	// true
}

func TestGuardConcurrent(t *testing.T) {
	g := NewGuard(GuardOptions{})
	type res struct {
		ok     bool
		reason string
	}
	want := make([]res, len(guardBenchPairs))
	for i, p := range guardBenchPairs {
		want[i].ok, want[i].reason = g.Check(p[0], p[1])
	}
	done := make(chan error, 4)
	for w := range 4 {
		go func() {
			for n := range 300 {
				i := (w + n) % len(guardBenchPairs)
				ok, reason := g.Check(guardBenchPairs[i][0], guardBenchPairs[i][1])
				if ok != want[i].ok || reason != want[i].reason {
					done <- fmt.Errorf("pair %d: %v %q, want %v %q", i, ok, reason, want[i].ok, want[i].reason)
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}
