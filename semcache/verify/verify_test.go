package verify

import (
	"strings"
	"testing"
)

// Table tests per must-miss category: every pair differs in a way that can
// change the answer, so none may be verified.
func TestMustMiss(t *testing.T) {
	v := New(Options{})
	doc := strings.Repeat("The quarterly report covers revenue, costs, hiring and the product roadmap for the next two quarters. ", 12)
	cases := map[string][][2]string{
		"unicode and case": {
			{"Solve x² = 4", "Solve x2 = 4"},
			{"Is the Go identifier myVar exported?", "Is the Go identifier MyVar exported?"},
			{"Was bedeutet Maße?", "Was bedeutet Masse?"},
			{"Is HF dangerous to touch?", "Is Hf dangerous to touch?"},
			{"What does the Turkish word 'kır' mean?", "What does the Turkish word 'kir' mean?"},
			{"Why does `const x = ５;` throw a SyntaxError?", "Why does `const x = 5;` throw a SyntaxError?"},
			{"Decode the base64 string aGVsbG8=", "Decode the base64 string AGVsbG8="},
			{"In Python, is `True` a valid literal?", "In Python, is `true` a valid literal?"},
			{"What is 100₂ in decimal?", "What is 100² in decimal?"},
			{"Does grep 'ofﬁce' match?", "Does grep 'office' match?"},
		},
		"significant whitespace": {
			{`What does print("a b") output?`, `What does print("a  b") output?`},
			{"Does the regex ^\\d{3} \\d{4}$ match 5551234?", "Does the regex ^\\d{3}\\d{4}$ match 5551234?"},
			{"How many lines?\n\nroses are red\nviolets are blue", "How many lines?\n\nroses are red violets are blue"},
			{"Will `#Intro` render as a heading?", "Will `# Intro` render as a heading?"},
			{"What happens when I run `count = 5` in bash?", "What happens when I run `count=5` in bash?"},
			{"How many words: 'ice cream is good'?", "How many words: 'icecream is good'?"},
			{"Paragraphs?\n\nA.\nB.\n\nC.", "Paragraphs?\n\nA.\nB.\nC."},
			{"def f():\n    return 1", "def f():\n  return 1"},
		},
		"long prompt, different ending": {
			{doc + "Summarize it in three bullet points.", doc + "Translate it into French."},
			{doc + "What does it say about hiring?", doc + "What does it say about costs?"},
		},
		"long prompt, one change in the middle": {
			{doc + "Revenue grew 12% last year. " + doc + "Summarize.", doc + "Revenue grew 21% last year. " + doc + "Summarize."},
			{doc + "The launch moves to March. " + doc + "Summarize.", doc + "The launch moves to April. " + doc + "Summarize."},
			{doc + "We will not hire. " + doc + "Summarize.", doc + "We will hire. " + doc + "Summarize."},
		},
		"roles": {
			{"Is every square a rectangle?", "Is every rectangle a square?"},
			{"Why is Rust considered safer than C++?", "Why is C++ considered safer than Rust?"},
			{"How do I migrate from MySQL to PostgreSQL?", "How do I migrate from PostgreSQL to MySQL?"},
			{"What should a mentor ask a mentee?", "What should a mentee ask a mentor?"},
			{"Are cats afraid of tigers?", "Are tigers afraid of cats?"},
			{"Can type A donate blood to type O?", "Can type O donate blood to type A?"},
			{"What are the buyer's obligations?", "What are the seller's obligations?"},
		},
		"polarity": {
			{"Give me arguments for a four-day week.", "Give me arguments against a four-day week."},
			{"How do I make bread with eggs?", "How do I make bread without eggs?"},
			{"Which vaccines are recommended in pregnancy?", "Which vaccines are not recommended in pregnancy?"},
			{"How do I turn off autosave?", "How do I turn on autosave?"},
			{"Checklist before moving out", "Checklist after moving out"},
			{"What are the advantages of Go?", "What are the disadvantages of Go?"},
			{"Which state has the highest tax?", "Which state has the lowest tax?"},
			{"How do I increase the font size?", "How do I decrease the font size?"},
			{"I can't log in", "I can log in"},
		},
		"units": {
			{"Convert 180 pounds to kilograms.", "Convert 180 kilograms to pounds."},
			{"Convert 2.5 hours to minutes.", "Convert 2.5 hours to seconds."},
			{"How many grams is a cup of flour?", "How many ounces is a cup of flour?"},
			{"Convert 30 mph to km/h.", "Convert 30 km/h to mph."},
			{"What time is 3 pm UTC in PST?", "What time is 3 pm PST in UTC?"},
		},
		"numbers": {
			{"Convert 350°F to Celsius.", "Convert 375°F to Celsius."},
			{"I earn $85,000 a year.", "I earn $95,000 a year."},
			{"Who was the 3rd president?", "Who was the 4th president?"},
			{"Does Python 3.8 support it?", "Does Python 3.7 support it?"},
			{"List 10 names.", "List eleven names."},
			{"What changed in React 18?", "What changed in React 19?"},
		},
		"identifiers": {
			{"What is the /etc/hosts file for?", "What is the /etc/hostname file for?"},
			{"Which row does df.loc[2] return?", "Which row does df.iloc[2] return?"},
			{"How do I fix error 0x80070005?", "How do I fix error 0x80070002?"},
			{"What does `docker compose stop` do?", "What does `docker compose down` do?"},
			{"Why does `import Requests` fail?", "Why does `import requests` fail?"},
			{"What does parseConfig return?", "What does parseCnofig return?"},
			{"What does parseConfig, the helper, return?", "What does parseCnofig, the helper, return?"},
			{"What does the 'Tr0ub4dor' password lack?", "What does the 'tr0ub4dor' password lack?"},
		},
		"entities and content": {
			{"Who founded Microsoft?", "Who founded Apple?"},
			{"What is the boiling point of ethanol?", "What is the boiling point of methanol?"},
			{"Write a letter from an employee to their employer.", "Write a letter from an employer to their employee."},
			{"How do I apply for a US passport?", "How long is a US passport valid?"},
			{"Write a Python function that encodes base64.", "Write a Python function that decodes base64."},
			{"Who can love?", "Who can love me?"},
			{"Evaluate (a + b) * c for a=1, b=2, c=3.", "Evaluate a + b * c for a=1, b=2, c=3."},
			{"Is the form valid?", "Is the from valid?"},
			{"Write a short biography of Stephen Zweig.", "Write a short biography of Stephan Zweig."},
			{"How do I configure Kubernetes?", "How do I configure Kubernets?"},
			{"What is my IP address?", "What is your IP address?"},
		},
	}
	for cat, pairs := range cases {
		for _, p := range pairs {
			for _, order := range [][2]string{p, {p[1], p[0]}} {
				if d := v.Verify(order[0], order[1], 1); d.OK {
					t.Errorf("%s: %q vs %q verified: %s", cat, short(order[0]), short(order[1]), d)
				}
			}
		}
	}
}

func short(s string) string {
	if len(s) > 60 {
		return "…" + s[len(s)-60:]
	}
	return s
}

// Variants that must hit, with the explanation the verifier gives.
func TestMustHit(t *testing.T) {
	v := New(Options{})
	doc := strings.Repeat("The quarterly report covers revenue, costs, hiring and the roadmap. ", 30)
	for _, c := range []struct{ a, b, want string }{
		{"What is the capital of France?", "what is the capital of france", "formatting(What→what); formatting(France→france); formatting(-?)"},
		{"How   do I unclog a sink?", "How do I unclog a sink?", "formatting(···→·)"},
		{"LIST SOME HEALTHY BREAKFAST IDEAS", "List some healthy breakfast ideas.", ""},
		{"How do I reverse a list in Python?", "how do I revrese a list in python", "typo(reverse→revrese)"},
		{"Explain the 'sunk cost fallacy'.", `Explain the "sunk cost fallacy".`, ""},
		{"How do I reverse a list?", "How do I revrese a list?", "typo(reverse→revrese)"},
		{"How can I reverse a list?", "How do I reverse a list?", "frame(how can i→how do i)"},
		{"I don't understand recursion.", "I do not understand recursion.", ""},
		{"How often should I water a snake plant?", "How frequently should I water a snake plant?", "synonym(often→frequently)"},
		{"What does an HOA fee cover?", "What do HOA fees cover?", ""},
		{"What's the difference between a crocodile and an alligator?", "What is the difference between an alligator and a crocodile?", ""},
		{"Explain what inflation is in simple terms.", "In simple terms, explain what inflation is.", ""},
		{"Can I freeze cooked rice?", "Is it possible to freeze cooked rice?", "frame(can i→is it possible to)"},
		{"Write a haiku about the ocean.", "Write me a haiku about the ocean.", "function-word(+me)"},
		{doc + "Summarize the report.", doc + "Summarize the reprot.", "typo(report→reprot)"},
		{"Give me 5 ideas for a team-building activity.", "Give me 5 ideas for a team-building activity!!", "!!)"},
		{"Is there any hard proof of life after death?", "Is tehre any hard proof of life after death?", "typo(there→tehre)"},
		{"What are the creepiest/scariest Nintendo games?", "What are the crepeiest/scariest Nintendo games?", "typo(creepiest→crepeiest)"},
		{"Can I apply to ten universities? (Undergraduate)", "Can I apply to ten universities? (Underrgaduate)", "typo(Undergraduate→Underrgaduate)"},
		{"How do I deploy Kubernetes on bare metal?", "How do I deploy Kuberentes on bare metal?", "typo(Kubernetes→Kuberentes)"},
		{"What are the five best movies of all time?", "What are the 5 best movies of all time?", "numeral(five→5)"},
		{"Which song can make make me feel scared?", "Which song can make me feel scared?", "typo(-make)"},
		{"How do I get rid of big cockroaches?", "How do I get rid of huge cockroaches?", "synonym(big→huge)"},
	} {
		d := v.Verify(c.a, c.b, 0)
		if !d.OK {
			t.Errorf("%q vs %q: miss: %s", short(c.a), short(c.b), d)
			continue
		}
		if c.want != "" && !strings.Contains(d.String(), c.want) {
			t.Errorf("%q vs %q: explanation %q, want it to contain %q", short(c.a), short(c.b), d, c.want)
		}
	}
}

// Explanations name the rule that decided a miss.
func TestExplanations(t *testing.T) {
	v := New(Options{})
	for _, c := range []struct {
		a, b string
		rule Class
	}{
		{"Top 10 customers", "Top 5 customers", Number},
		{"Make bread with eggs", "Make bread without eggs", Negation},
		{"Arguments for a four-day week", "Arguments against a four-day week", Polarity},
		{"Which vaccines are recommended?", "Which vaccines are not recommended?", Negation},
		{"Who founded Microsoft?", "Who founded Apple?", Content},
		{"Is every square a rectangle?", "Is every rectangle a square?", Order},
		{"Was bedeutet Maße?", "Was bedeutet Masse?", Unicode},
		{"Write a formal email to my landlord.", "Write an informal email to my landlord.", Antonym},
		{"What does `ls -a` do?", "What does `ls -A` do?", Quoted},
		{"Is HF dangerous?", "Is Hf dangerous?", CaseDiff},
		{"lines\none\ntwo", "lines\none two", LineStructure},
		{"What does 심하잖아 mean?", "What does 任せてほしい mean?", Script},
	} {
		d := v.Verify(c.a, c.b, 0)
		if d.OK || d.Rule != c.rule {
			t.Errorf("%q vs %q: %v %s, want rule %s", c.a, c.b, d.OK, d, c.rule)
		}
	}
}

func TestOptions(t *testing.T) {
	o := Options{SynonymSenses: -1, MaxEdits: 9999, WideSimilarity: -1}
	err := o.Validate()
	for _, f := range []string{"synonym_senses", "max_edits", "wide_similarity"} {
		if err == nil || !strings.Contains(err.Error(), f) {
			t.Errorf("Validate() = %v, want %s", err, f)
		}
	}
	// Switches make the verifier stricter.
	if New(Options{NoTypos: true}).Verify("How do I reverse a list?", "How do I revrese a list?", 0).OK {
		t.Error("typo explained with typos off")
	}
	if New(Options{NoSynonyms: true}).Verify("How often?", "How frequently?", 0).OK {
		t.Error("synonym explained with synonyms off")
	}
	if New(Options{NoFrames: true}).Verify("Can I freeze rice?", "Is it possible to freeze rice?", 0).OK {
		t.Error("frame explained with frames off")
	}
	if New(Options{NoReorder: true}).Verify("Explain inflation in simple terms.", "In simple terms, explain inflation.", 0).OK {
		t.Error("reorder explained with reorders off")
	}
}

func TestLossless(t *testing.T) {
	for in, want := range map[string]string{
		"  a\r\nb \n": "a\nb",
		"cafe\u0301":  "caf\u00e9",
		"x²":          "x²",
		"A  B":        "A  B",
		"bad\xffutf8": "bad\uFFFDutf8",
	} {
		if got := Lossless(in); got != want {
			t.Errorf("Lossless(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzVerify(f *testing.F) {
	for _, s := range []string{"How do I reverse a list?", "Explain 'x' in `code`", "a\n\n b", "don't can't won't", "1,000.5 3rd ², ß",
		strings.Repeat("'a ", 300), "```go\nx := 1\n``` and `y`", "x and y or z and w"} {
		f.Add(s, strings.ToUpper(s))
	}
	v := New(Options{})
	f.Fuzz(func(t *testing.T, a, b string) {
		d := v.Verify(a, b, 0.5)
		if d2 := v.Verify(a, b, 0.5); d.OK != d2.OK || d.String() != d2.String() {
			t.Fatalf("not deterministic: %s vs %s", d, d2)
		}
		if v.Verify(a, a, 0).Rule != Identical {
			t.Fatal("a prompt is not identical to itself")
		}
		if !d.OK && d.Rule == Explained {
			t.Fatal("a miss without a rule")
		}
	})
}

// A prepared prompt gives the same verdicts as Verify.
func TestPrepared(t *testing.T) {
	v := New(Options{})
	for _, c := range [][2]string{
		{"How do I reverse a list?", "How do I revrese a list?"},
		{"Top 10 customers", "Top 5 customers"},
		{"What is a crocodile and an alligator?", "What is an alligator and a crocodile?"},
		{"same", "same"},
	} {
		p := v.Prepare(c[1])
		for range 2 { // reusable
			if got, want := p.Verify(c[0], 0.5), v.Verify(c[0], c[1], 0.5); got.OK != want.OK || got.String() != want.String() {
				t.Errorf("%q: prepared %s, direct %s", c[1], got, want)
			}
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, c := range []struct{ name, a, b string }{
		{"typo", "How do I restart my computer in safe mode on Windows 11?", "How do I restart my computer in safe mode on Windwos 11?"},
		{"paraphrase", "How can I tell if an avocado is ripe and ready to eat today?", "How do I know if an avocado is ripe and ready to eat today?"},
		{"number", "If I invest $10,000 at 5% compounded annually, how much will I have after 10 years?", "If I invest $10,000 at 5% compounded annually, how much will I have after 20 years?"},
		{"1KB", strings.Repeat("The report covers revenue, costs and hiring. ", 20) + "Summarize it.", strings.Repeat("The report covers revenue, costs and hiring. ", 20) + "Summarise it!"},
	} {
		b.Run(c.name, func(b *testing.B) {
			v := New(Options{})
			v.Verify(c.a, c.b, 0) // load WordNet
			b.ReportAllocs()
			for b.Loop() {
				v.Verify(c.a, c.b, 0)
			}
		})
		// A lookup prepares the incoming prompt once and verifies each
		// candidate against it: the cost per candidate.
		b.Run(c.name+"/prepared", func(b *testing.B) {
			v := New(Options{})
			p := v.Prepare(c.b)
			p.Verify(c.a, 0)
			b.ReportAllocs()
			for b.Loop() {
				p.Verify(c.a, 0)
			}
		})
	}
}

func TestVerdictHeader(t *testing.T) {
	d := New(Options{}).Verify("Élan vital, what is it?", "élan vital what is it", 0)
	if !d.OK {
		t.Fatalf("%s", d)
	}
	h := d.Header()
	if !isASCII(h) || !strings.Contains(h, `formatting(\u00c9lan->\u00e9lan)`) {
		t.Fatalf("header %q", h)
	}
}

// The tokenizer's fast path for plain words gives the tokens the general
// path gives.
func TestFastWordMatchesChunk(t *testing.T) {
	for _, w := range []string{"report", "Report", "REPORT", "hiring.", "costs,", "Why?", "wow!", "a", "I", "x;", "parseConfig", "iPhone", "McDonald,", "ABCdef"} {
		fast := tokenize(w, nil).toks
		slow := tokenizer{s: w}
		slow.chunk(0, len(w))
		if len(fast) != len(slow.out) {
			t.Fatalf("%q: %d tokens fast, %d slow", w, len(fast), len(slow.out))
		}
		for i := range fast {
			f, s := fast[i], slow.out[i]
			if f.raw != s.raw || f.key != s.key || f.kind != s.kind || f.exact != s.exact {
				t.Errorf("%q token %d: fast %+v, slow %+v", w, i, f, s)
			}
		}
	}
}

func TestExchange(t *testing.T) {
	x := []string{"big", "red", "and", "a", "blue"}
	exchange(x, 2, 1)
	if strings.Join(x, " ") != "blue and a big red" {
		t.Fatalf("%v", x)
	}
}
