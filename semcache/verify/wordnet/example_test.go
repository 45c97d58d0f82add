package wordnet_test

import (
	"fmt"

	"github.com/semgate/semgate/semcache/verify/wordnet"
)

func Example() {
	fmt.Println(wordnet.IsWord("houseplants"), wordnet.IsWord("windwos"))
	fmt.Println(wordnet.BaseForms(nil, "geese", wordnet.Noun), wordnet.BaseForms(nil, "running", wordnet.Verb))
	fmt.Println(wordnet.Synonyms("often", "frequently", 1), wordnet.Synonyms("calculate", "work out", 0))
	fmt.Println(wordnet.Antonyms("hot", "cold"), wordnet.Synonyms("hot", "cold", 0))
	fmt.Println(wordnet.Similar("hot", "scorching", 1))
	fmt.Println(wordnet.Lemma("fast") == 1<<wordnet.Noun|1<<wordnet.Verb|1<<wordnet.Adj|1<<wordnet.Adv)
	// Output:
	// true false
	// [goose] [run]
	// true true
	// true false
	// true
	// true
}
