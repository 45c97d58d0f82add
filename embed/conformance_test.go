package embed_test

import (
	"testing"

	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/embed/embedtest"
)

func newLexical(t *testing.T, dim int, o embed.LexicalOptions) *embed.Lexical {
	t.Helper()
	l, err := embed.NewLexical(dim, o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestConformanceLexical(t *testing.T) {
	embedtest.RunNew(t, func(t *testing.T) embed.Embedder { return newLexical(t, 0, embed.LexicalOptions{}) })
}

func TestConformanceLexicalTuned(t *testing.T) {
	for _, dim := range []int{embed.MinLexicalDim, embed.MaxLexicalDim} {
		embedtest.Run(t, newLexical(t, dim, embed.LexicalOptions{BigramWeight: -1, CharMinN: 2, CharMaxN: 8}))
	}
}

func TestConformanceCachedLexical(t *testing.T) {
	embedtest.RunNew(t, func(t *testing.T) embed.Embedder {
		return embed.NewCached(newLexical(t, 0, embed.LexicalOptions{}), 64) // smaller than the corpus: evicts
	})
}

func TestConformanceNew(t *testing.T) {
	embedtest.RunNew(t, func(t *testing.T) embed.Embedder {
		e, err := embed.New(embed.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return e
	})
}

func TestConformanceOpenAI(t *testing.T) {
	f := newFakeServer(t)
	embedtest.RunNew(t, func(t *testing.T) embed.Embedder { return newOpenAI(t, f, 0, embed.OpenAIOptions{}) })
}

func TestConformanceOpenAIDimensions(t *testing.T) {
	f := newFakeServer(t)
	embedtest.Run(t, newOpenAI(t, f, 256, embed.OpenAIOptions{BatchSize: 7, APIKey: "sk-test"}))
}

func TestConformanceCachedOpenAI(t *testing.T) {
	f := newFakeServer(t)
	embedtest.RunNew(t, func(t *testing.T) embed.Embedder {
		return embed.NewCached(newOpenAI(t, f, 0, embed.OpenAIOptions{}), 1000)
	})
}
