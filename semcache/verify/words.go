package verify

import (
	"strconv"
	"strings"
)

// The verifier's closed-class word lists: grammar, not vocabulary. Open-class
// knowledge (which words are English, synonyms, antonyms, inflections) comes
// from WordNet (package wordnet).

// freeWords may be added or dropped without changing what a prompt asks:
// articles, politeness, fillers, "some", "any", "ever" and the
// complementizer "that". "me" is free only as the object of a request
// ("write me a haiku"; see side.free). Possessives are not ("the meaning
// of my life" is not "the meaning of life").
var freeWords = set(`a an the please kindly me some any just really actually basically
	hey hi hello thanks that ever`)

// groups lists words that may replace one another. A word may be in several
// groups. ctx says when the exchange is allowed.
type group struct {
	words map[string]bool
	ctx   groupCtx
}

type groupCtx uint8

const (
	ctxAny       groupCtx = iota
	ctxBeforeI            // followed by "I" or "we" (asking leave or ability: "can I", "could I")
	ctxBeforeYou          // followed by "you" (a request: "can you", "would you")
	ctxAfterWh            // after how/where/when and before a pronoun ("how do I" = "how can I")
	ctxPlace              // between a noun and a noun phrase ("my password in Yahoo mail" = "on Yahoo mail")
)

var groups = []group{
	{set(`can could may`), ctxBeforeI},          // "can I" = "could I" = "may I"
	{set(`can could would will`), ctxBeforeYou}, // "can you" = "would you" = "will you"
	{set(`do does can could should`), ctxAfterWh},
	{set(`do does`), ctxAny},
	{set(`is are`), ctxAny},
	{set(`was were`), ctxAny},
	{set(`has have`), ctxAny},
	{set(`on about regarding concerning`), ctxAny},
	{set(`when while`), ctxAny},
	{set(`whether if`), ctxAny},
	{set(`what which`), ctxAny},
	{set(`which that who`), ctxAny},
	{set(`i you we one`), ctxAfterWh}, // "how do I" = "how do you" = "how does one"
	{set(`per a`), ctxAny},
	{set(`in at on`), ctxPlace},
}

var whWords = set(`how where when`)

// frames are phrases that ask the same thing (keys after contraction
// expansion). A frame with an empty alternative may be dropped; startOnly
// frames apply only at the start of a sentence.
type frame struct {
	alts      [][]string
	startOnly bool
}

var frames = []frame{
	{alts: phrases(`how do i|how can i|how should i|how could i|how do you|how can you|how does one|how can one|how do we|how can we|how to|what is the best way to|what is the right way to|what is a good way to|what is the proper way to|what is the correct way to|what is the way to`)},
	{alts: phrases(`can i|is it possible to|could i|am i able to|is there a way to`)},
	{alts: phrases(`when should i|when is the best time to|what is the best time to|when do i`)},
	{alts: phrases(`some|a few|any|several`)},
	{alts: phrases(`can you|could you|would you|will you|please|can you please|could you please|would you please|`), startOnly: true},
	{alts: phrases(`in simple terms|simply|in plain terms|in plain english|in layman 's terms`)},
}

// movePreps may start a phrase that moves within its sentence ("in simple
// terms, explain X" = "explain X in simple terms").
var movePreps = set(`in on at during within for with by from to after before without using via`)

// Polarity words: a difference in one of these is a difference in meaning
// (used to name the rule that rejected a pair).
var negations = set(`not no never none nothing nobody nowhere neither nor without cannot`)

var polarity = set(`for against with without before after on off in out up down over under above below
	more less most least all only every each both either except excluding including include exclude
	than from to into onto toward towards since until till between always yet still already again too
	allow deny enable disable add remove true false yes increase decrease pros cons
	first last next previous early late`)

// functionWords are closed-class words (for naming reasons and for the
// coordination rule: a conjunct holds content words only).
var functionWords = set(`a an the i me my mine we us our ours you your yours he him his she her hers it its
	they them their theirs this that these those there here what which who whom whose when where why how
	to of in on at by for with about as into from onto over under than then
	is are was were be been being am do does did have has had can could would should will shall may might must
	and or but so if whether not no nor please some any just really actually also very
	all every each both either neither only more most less least`)

func set(s string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

func phrases(s string) [][]string {
	var out [][]string
	for _, p := range strings.Split(s, "|") {
		out = append(out, strings.Fields(p))
	}
	return out
}

// numberWords maps number words to digits (a numeral written either way is
// formatting: "five best movies" = "5 best movies").
var numberWords = func() map[string]string {
	m := map[string]string{}
	for i, w := range strings.Fields(`zero one two three four five six seven eight nine ten eleven twelve
		thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty`) {
		m[w] = strconv.Itoa(i)
	}
	for i, w := range strings.Fields(`thirty forty fifty sixty seventy eighty ninety`) {
		m[w] = strconv.Itoa(30 + 10*i)
	}
	m["hundred"], m["thousand"], m["million"], m["billion"] = "100", "1000", "1000000", "1000000000"
	return m
}()
