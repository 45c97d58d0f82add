package wordkeys

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"How do I restart my computer in safe mode on Windwos 11?",
			[]string{"how", "do", "i", "restart", "my", "computer", "in", "safe", "mode", "on", "windwos", "11"}},
		{"Don't stop", []string{"dont", "stop"}},
		{"it’s the users' guide", []string{"its", "the", "users", "guide"}},
		{"rock 'n' roll", []string{"rock", "n", "roll"}},
		{"ÉCOLE Straße İstanbul", []string{"école", "straße", "istanbul"}},
		{"nai\u0308ve cafe\u0301", []string{"nai\u0308ve", "cafe\u0301"}}, // decomposed accents stay in the word
		{"हिन्दी भाषा", []string{"हिन्दी", "भाषा"}},
		{"中文问题 text", []string{"中文问题", "text"}},
		{"a--b_c/d.e", []string{"a", "b", "c", "d", "e"}},
		{"x' 'y ''", []string{"x", "y"}},
		{"bad \xff utf8", []string{"bad", "utf8"}},
		{"GPT-4o vs gpt4o", []string{"gpt", "4o", "vs", "gpt4o"}},
		{"", nil},
		{" ?! ", nil},
	} {
		if got := Words(tc.in, nil); !slices.Equal(got, tc.want) {
			t.Errorf("Words(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// Words appends.
	if got := Words("b c", []string{"a"}); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Words appending = %q", got)
	}
	if got := Words("B C", []string{"a"}); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Errorf("Words appending, normalized = %q", got)
	}
}

func TestWordsAllocs(t *testing.T) {
	dst := make([]string, 0, 32)
	if n := testing.AllocsPerRun(100, func() {
		dst = Words("how do i restart my computer in safe mode on windows 11", dst[:0])
	}); n != 0 {
		t.Errorf("clean prompt: %v allocs, want 0", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		dst = Words("How do I restart my computer in safe mode on Windows 11? Don't know.", dst[:0])
	}); n != 1 {
		t.Errorf("prompt to normalize: %v allocs, want 1", n)
	}
}

// words is Words for tests.
func words(s string) []string { return Words(s, nil) }

// lookup returns the IDs found for prompt s in partition part.
func lookup(x *Index, part ID, s string) []ID { return x.Lookup(part, words(s), nil) }

func TestTypoAndWordEdits(t *testing.T) {
	x := New(Options{})
	p := partOf(1)
	src := "How do I restart my computer in safe mode on Windows 11?"
	x.Add(idOf(1), p, words(src))
	x.Add(idOf(2), p, words("How do I restart my router?"))
	x.Add(idOf(3), p, words("What is the capital of France?"))
	for _, tc := range []struct {
		name, query string
	}{
		{"same", src},
		{"case and punctuation", "how do i restart my computer in safe mode on windows 11"},
		{"typo", "How do I restart my computer in safe mode on Windwos 11?"},
		{"substitution", "How do I restart my laptop in safe mode on Windows 11?"},
		{"insertion", "How do I quickly restart my computer in safe mode on Windows 11?"},
		{"deletion", "How do I restart computer in safe mode on Windows 11?"},
		{"first word", "Why do I restart my computer in safe mode on Windows 11?"},
		{"last word", "How do I restart my computer in safe mode on Windows 10?"},
		{"appended word", "How do I restart my computer in safe mode on Windows 11 please?"},
		// Deleting "safe" from either gives the same words: a word moved
		// anywhere is found.
		{"adjacent words swapped", "How do I restart my computer in mode safe on Windows 11?"},
		{"word moved", "How do I restart my computer in mode on safe Windows 11?"},
	} {
		got := lookup(x, p, tc.query)
		if !slices.Contains(got, idOf(1)) {
			t.Errorf("%s: %q finds %x, not the source", tc.name, tc.query, got)
		}
		if slices.Contains(got, idOf(2)) || slices.Contains(got, idOf(3)) {
			t.Errorf("%s: %q also finds unrelated entries: %x", tc.name, tc.query, got)
		}
	}
	for _, tc := range []struct {
		name, query string
	}{
		{"two substitutions", "How do I restart my laptop in safe mode on Windows 10?"},
		{"typo and deletion", "How do I restart computer in safe mode on Windwos 11?"},
		{"two insertions", "So how do I restart my computer in safe mode on Windows 11 please?"},
		{"two words swapped", "How do I restart my mode in safe computer on Windows 11?"},
	} {
		if got := lookup(x, p, tc.query); len(got) != 0 {
			t.Errorf("%s: %q finds %x, want nothing", tc.name, tc.query, got)
		}
	}
}

func TestShortPrompts(t *testing.T) {
	x := New(Options{})
	p := partOf(1)
	x.Add(idOf(1), p, words("hello"))
	x.Add(idOf(2), p, words("thanks a lot"))
	x.Add(idOf(3), p, words("thank you"))
	for _, tc := range []struct {
		query string
		want  []ID
	}{
		{"Hello!", []ID{idOf(1)}},
		{"hello there", []ID{idOf(1)}}, // one word inserted
		{"helo", nil},                  // one-word prompts: no deletion keys
		{"thanks a lit", []ID{idOf(2)}},
		{"thanks lot", []ID{idOf(2)}},
		{"thank", []ID{idOf(3)}},
		{"thank yu", []ID{idOf(3)}},
		{"thanks yu", nil},
		{"", nil},
	} {
		if got := lookup(x, p, tc.query); !slices.Equal(got, tc.want) {
			t.Errorf("%q finds %x, want %x", tc.query, got, tc.want)
		}
	}
}

func TestPartitionsNeverMix(t *testing.T) {
	x := New(Options{})
	s := "how do i restart my computer in safe mode"
	for i := range uint64(5) {
		x.Add(idOf(i), partOf(i), words(s))
	}
	for i := range uint64(5) {
		for _, q := range []string{s, "how do i restart my laptop in safe mode", "how do i restart my computer in mode"} {
			if got := lookup(x, partOf(i), q); !slices.Equal(got, []ID{idOf(i)}) {
				t.Errorf("partition %d, %q: found %x, want only %x", i, q, got, idOf(i))
			}
		}
	}
	if got := lookup(x, partOf(9), s); len(got) != 0 {
		t.Errorf("empty partition finds %x", got)
	}
}

func TestDelete(t *testing.T) {
	x := New(Options{})
	p := partOf(1)
	x.Add(idOf(1), p, words("how do i restart my computer in safe mode"))
	x.Add(idOf(2), p, words("how do i restart my laptop in safe mode"))
	x.Delete(idOf(1))
	x.Delete(idOf(1)) // again: no-op
	x.Delete(idOf(9)) // absent: no-op
	if x.Len() != 1 {
		t.Errorf("Len = %d, want 1", x.Len())
	}
	if got := lookup(x, p, "how do i restart my computer in safe mode"); !slices.Equal(got, []ID{idOf(2)}) {
		t.Errorf("after Delete found %x, want only %x", got, idOf(2))
	}
	// Re-adding an ID replaces its words.
	x.Add(idOf(2), p, words("what is the capital of france"))
	x.Add(idOf(2), p, words("what is the capital of spain"))
	if got := lookup(x, p, "how do i restart my laptop in safe mode"); len(got) != 0 {
		t.Errorf("replaced words still found: %x", got)
	}
	if got := lookup(x, p, "what is the capital of france"); !slices.Equal(got, []ID{idOf(2)}) {
		t.Errorf("replacement not found by a substitution: %x", got)
	}
	if x.Len() != 1 {
		t.Errorf("Len = %d, want 1", x.Len())
	}
	checkInvariants(t, x)
}

func TestLongPrompts(t *testing.T) {
	x := New(Options{})
	p := partOf(1)
	r := rand.New(rand.NewPCG(1, 2))
	c := newCorpus(5000, 3)
	var long [][]string
	for i := range uint64(200) {
		ws := make([]string, 25+r.IntN(40))
		for k := range ws {
			ws[k] = c.word(r)
		}
		long = append(long, ws)
		x.Add(idOf(i), p, ws)
	}
	for i, ws := range long {
		id := idOf(uint64(i))
		for k := range ws { // a substitution anywhere
			q := slices.Clone(ws)
			q[k] = typoWord(q[k], r)
			if got := x.Lookup(p, q, nil); !slices.Contains(got, id) {
				t.Fatalf("long prompt %d (%d words), typo in word %d: not found", i, len(ws), k)
			}
		}
		// An insertion or deletion in a long prompt is left to the
		// embedding channel.
		if got := x.Lookup(p, ws[1:], nil); slices.Contains(got, id) {
			t.Errorf("long prompt %d found with its first word deleted", i)
		}
		if got := x.Lookup(p, ws, nil); len(got) == 0 || got[0] != id {
			t.Errorf("long prompt %d: same words give %x", i, got)
		}
	}
}

// Around Options.LongWords: an insertion or deletion is found when the
// longer prompt has at most LongWords words.
func TestLongWordsBoundary(t *testing.T) {
	const long = 8
	x := New(Options{LongWords: long})
	p := partOf(1)
	mk := func(n int) []string {
		ws := make([]string, n)
		for i := range ws {
			ws[i] = fmt.Sprintf("w%d", i)
		}
		return ws
	}
	for n := 2; n <= long+2; n++ {
		x.Add(idOf(uint64(n)), p, mk(n))
	}
	for n := 2; n <= long+2; n++ {
		got := x.Lookup(p, mk(n), nil)
		want := []ID{idOf(uint64(n))}
		if n-1 >= 2 && n <= long {
			want = append(want, idOf(uint64(n-1)))
		}
		if n+1 <= long {
			want = append(want, idOf(uint64(n+1)))
		}
		slices.SortFunc(want[1:], func(a, b ID) int { return compareIDs(&a, &b) })
		if !slices.Equal(got, want) {
			t.Errorf("%d words: found %x, want %x", n, got, want)
		}
	}
}

func TestRankingAndCaps(t *testing.T) {
	x := New(Options{MaxCandidates: 3, MaxPerKey: 5})
	p := partOf(1)
	// 10 prompts "shared wN": the deletion key "shared" is common to all.
	for i := range uint64(10) {
		x.Add(idOf(100+i), p, []string{"shared", fmt.Sprint("w", i)})
	}
	x.Add(idOf(1), p, []string{"shared", "x"})
	got := x.Lookup(p, []string{"shared", "x"}, nil)
	if len(got) != 3 || got[0] != idOf(1) {
		t.Fatalf("found %x: want 3, the same words first", got)
	}
	// The key "shared" holds at most MaxPerKey live entries.
	x2 := New(Options{MaxCandidates: 100, MaxPerKey: 5})
	for i := range uint64(10) {
		x2.Add(idOf(i), p, []string{"shared", fmt.Sprint("w", i)})
	}
	if got := x2.Lookup(p, []string{"shared", "new"}, nil); len(got) != 5 {
		t.Errorf("common key yields %d entries, want MaxPerKey=5", len(got))
	}
	// Each entry is still found through its other keys.
	for i := range uint64(10) {
		if got := x2.Lookup(p, []string{"shared", fmt.Sprint("w", i)}, nil); !slices.Contains(got, idOf(i)) {
			t.Errorf("entry %d not found by its own words", i)
		}
	}
	checkInvariants(t, x2)
}

// TestChurn runs random adds, re-adds and deletes against a model and
// checks that every live entry is found by its words and by a typo, that
// deleted ones never are, and the table's invariants, through sweeps,
// growth, shrinking and widening of the entry field.
func TestChurn(t *testing.T) {
	x := New(Options{})
	r := rand.New(rand.NewPCG(7, 8))
	c := newCorpus(3000, 9)
	type ent struct {
		part  ID
		words []string
	}
	model := map[ID]ent{}
	check := func(round int) {
		t.Helper()
		checkInvariants(t, x)
		if x.Len() != len(model) {
			t.Fatalf("round %d: Len = %d, model %d", round, x.Len(), len(model))
		}
		for id, e := range model {
			for _, q := range [][]string{e.words, typo(e.words, r)} {
				got := x.Lookup(e.part, q, nil)
				if !slices.Contains(got, id) {
					t.Fatalf("round %d: %x not found by %q", round, id, q)
				}
				for _, g := range got {
					if _, ok := model[g]; !ok {
						t.Fatalf("round %d: deleted %x found", round, g)
					}
				}
			}
		}
	}
	next := uint64(0)
	for round := range 6 {
		adds, dels := 3000, 1000
		if round >= 3 {
			adds, dels = 200, 2500 // shrink
		}
		for range adds {
			id := idOf(next)
			if len(model) > 0 && r.IntN(10) == 0 { // re-add an existing ID
				for k := range model {
					id = k
					break
				}
			} else {
				next++
			}
			e := ent{partOf(uint64(r.IntN(3))), c.prompt(next*31+uint64(r.IntN(1000)), nil)}
			model[id] = e
			x.Add(id, e.part, e.words)
		}
		for range dels {
			for k := range model {
				delete(model, k)
				x.Delete(k)
				break
			}
		}
		check(round)
	}
	if x.ebits <= firstEntryBits {
		t.Errorf("entry field never widened (ebits %d)", x.ebits)
	}
}

// checkInvariants checks the table: slots in key order, each at or after
// its home with no empty slot in between, the used count, entry numbers
// allocated, and the dead and free counts.
func checkInvariants(t *testing.T, x *Index) {
	t.Helper()
	x.mu.RLock()
	defer x.mu.RUnlock()
	free := map[uint32]bool{}
	for _, e := range x.free {
		free[e] = true
	}
	used, last, run := 0, uint64(0), 0 // run: first slot of the current run
	for i, s := range x.slots {
		if s == 0 {
			run = i + 1
			continue
		}
		used++
		if s>>32 < last {
			t.Fatalf("slot %d out of order", i)
		}
		last = s >> 32
		if h := x.home(s); h > i || h < run {
			t.Fatalf("slot %d: home %d, run from %d", i, h, run)
		}
		if e := x.entry(s); int(e) >= len(x.ids) || free[e] {
			t.Fatalf("slot %d refers to entry %d, not allocated", i, e)
		}
	}
	if used != x.used {
		t.Fatalf("used = %d, counted %d", x.used, used)
	}
	ndead := 0
	for e := range x.ids {
		if x.isDead(uint32(e)) {
			ndead++
		}
	}
	if ndead != x.ndead || x.live+x.ndead+len(x.free) != len(x.ids) {
		t.Fatalf("live %d + dead %d (counted %d) + free %d != %d entries", x.live, x.ndead, ndead, len(x.free), len(x.ids))
	}
	if x.used*maxLoadDen > x.n*maxLoadNum {
		t.Fatalf("load %d/%d above the maximum", x.used, x.n)
	}
}

func TestConcurrent(t *testing.T) {
	x := New(Options{})
	c := newCorpus(2000, 11)
	p := partOf(1)
	const writers, readers, n = 2, 4, 2000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range uint64(n) {
				id := idOf(uint64(w)<<32 | i)
				x.Add(id, p, c.prompt(uint64(w)<<32|i, nil))
				if i%3 == 0 {
					x.Delete(id)
				}
			}
		})
	}
	for rd := range readers {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(rd), 0))
			var dst []ID
			for range n {
				dst = x.Lookup(p, typo(c.prompt(r.Uint64N(n), nil), r), dst[:0])
				_ = x.Len()
			}
		})
	}
	wg.Wait()
	checkInvariants(t, x)
	if want := writers * (n - (n+2)/3); x.Len() != want {
		t.Errorf("Len = %d, want %d", x.Len(), want)
	}
	for w := range writers {
		for i := range uint64(n) {
			id := idOf(uint64(w)<<32 | i)
			found := slices.Contains(x.Lookup(p, c.prompt(uint64(w)<<32|i, nil), nil), id)
			if found != (i%3 != 0) {
				t.Fatalf("writer %d entry %d: found %v", w, i, found)
			}
		}
	}
}

// TestRecall20k: at 20k entries of synthetic prompts, a one-character typo
// finds its source for at least 99% of queries.
func TestRecall20k(t *testing.T) {
	const n, queries = 20000, 5000
	x := New(Options{})
	c := newCorpus(30000, 1)
	p := partOf(1)
	for i := range uint64(n) {
		x.Add(idOf(i), p, c.prompt(i, nil))
	}
	r := rand.New(rand.NewPCG(5, 6))
	found, cands := 0, 0
	var dst []ID
	for range queries {
		i := r.Uint64N(n)
		dst = x.Lookup(p, typo(c.prompt(i, nil), r), dst[:0])
		cands += len(dst)
		if slices.Contains(dst, idOf(i)) {
			found++
		}
	}
	recall := float64(found) / queries
	t.Logf("recall %.4f, %.2f candidates per lookup", recall, float64(cands)/queries)
	if recall < 0.99 {
		t.Errorf("recall %.4f < 0.99", recall)
	}
}

func TestOptions(t *testing.T) {
	var o Options
	if err := o.Validate(); err != nil {
		t.Fatalf("zero Options: %v", err)
	}
	o = Options{MaxCandidates: -1, MaxPerKey: 5000, LongWords: 2}
	err := o.Validate()
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Validate = %v, want ErrInvalidOptions", err)
	}
	for _, field := range []string{"max_candidates", "max_per_key", "long_words"} {
		if !strings.Contains(err.Error(), field) {
			t.Errorf("Validate does not report %s: %v", field, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("New with invalid options did not panic")
		}
	}()
	New(o)
}

// FuzzLookup: index a prompt (and another), change it by one word and look
// the change up: the prompt is found whenever the design promises it.
func FuzzLookup(f *testing.F) {
	f.Add("How do I restart my computer in safe mode on Windows 11?", "What is the capital of France?", uint8(10), uint8(0), "Windwos")
	f.Add("thanks a lot", "thank you", uint8(1), uint8(1), "very")
	f.Add("thanks a lot", "thanks", uint8(1), uint8(2), "")
	f.Add("very very good", "good", uint8(1), uint8(2), "")
	f.Add(strings.Repeat("lorem ipsum dolor sit amet ", 7), "", uint8(30), uint8(0), "dolar")
	f.Add("Don't stop", "", uint8(0), uint8(3), "")
	f.Fuzz(func(t *testing.T, prompt, other string, pos, op uint8, repl string) {
		x := New(Options{})
		p := partOf(1)
		ws := words(prompt)
		n := len(ws)
		if n == 0 {
			return
		}
		// Words is idempotent on its output.
		if again := words(strings.Join(ws, " ")); !slices.Equal(again, ws) {
			t.Fatalf("Words(%q) = %q, but Words of its join = %q", prompt, ws, again)
		}
		x.Add(idOf(1), p, ws)
		x.Add(idOf(2), p, words(other))
		x.Add(idOf(3), partOf(2), ws)
		rw := "zz"
		if r := words(repl); len(r) > 0 {
			rw = r[0]
		}
		long := DefaultLongWords
		q := slices.Clone(ws)
		var want bool
		switch op % 4 {
		case 0: // substitution
			q[int(pos)%n] = rw
			want = n >= 2
		case 1: // insertion
			q = slices.Insert(q, int(pos)%(n+1), rw)
			want = n+1 <= long
		case 2: // deletion
			q = slices.Delete(q, int(pos)%n, int(pos)%n+1)
			want = n >= 2 && n <= long
		case 3: // same words
			want = true
		}
		got := x.Lookup(p, q, nil)
		if want && !slices.Contains(got, idOf(1)) {
			t.Fatalf("%q (op %d) from %q: found %x", q, op%4, ws, got)
		}
		if slices.Contains(got, idOf(3)) {
			t.Fatalf("found an entry of another partition")
		}
	})
}

// Finds agrees with what Lookup proposes.
func TestFinds(t *testing.T) {
	x := New(Options{})
	w := func(s string) []string { return Words(s, nil) }
	long := strings.Repeat("alpha beta gamma delta ", 8)
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"how do I reverse a list", "how do I revrese a list", true},
		{"how do I reverse a list", "how do I reverse a python list", true},
		{"how do I reverse a list", "how I reverse list", false},
		{long + "end", long + "fin", true},
		{long + "end", long + "the end", false}, // insertions in long prompts: the neural channel's
	} {
		if got := x.Finds(w(c.a), w(c.b)); got != c.want {
			t.Errorf("Finds(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
		var id, part ID
		id[0] = 1
		y := New(Options{})
		y.Add(id, part, w(c.a))
		if found := len(y.Lookup(part, w(c.b), nil)) == 1; found != c.want {
			t.Errorf("Lookup(%q) after Add(%q): found %v, Finds says %v", c.b, c.a, found, c.want)
		}
	}
}
