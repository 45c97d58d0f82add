// Package embed turns texts into vectors for semgate's semantic cache: the
// last user message of every request is embedded and looked up in a
// vector index for near-duplicate cached answers.
//
// An [Embedder] returns unit-norm []float32 vectors of a fixed dimension
// and names its vector space with an ID (stored with every vector: vectors
// of different IDs are never compared). The package imports none of
// semgate's other packages. [New] builds the embedder that an [Options]
// value (YAML: model, dimensions, cache_size, lexical, openai) selects.
//
// # lexical (the default)
//
// [Lexical] is pure Go: no model weights, no network, no statistics fitted
// to a corpus, so a stored vector never drifts. Its ID is
// "lexical-v1-<dim>" (plus the tuning when it is not the default). For
// each text it
//
//   - NFKC-normalizes and lower-cases it and splits it into words: runs
//     of letters, digits and combining marks, apostrophes inside a word
//     dropped ("Don’t" = "dont"), everything else a separator. So case,
//     white space, punctuation, full-width forms and ligatures do not
//     change the vector. A text with no word but some non-space
//     characters ("?!") is split on white space instead;
//   - collects three kinds of features: word unigrams, word bigrams
//     (adjacent pairs, the only word-order signal) and character 3- to
//     5-grams of each word with boundary markers ("<go>" gives "<go",
//     "go>" and "<go>"), which make typos and inflections score high;
//   - weighs each distinct feature by 1+ln(tf), hashes it with a fixed,
//     seeded 64-bit hash (hash.go; the same on every run and platform)
//     to a coordinate and, from another bit of the hash, a sign, and adds
//     it there (signed feature hashing);
//   - scales each kind to unit norm, mixes the kinds by the weights of
//     [LexicalOptions] (defaults word 1, bigram 0.75, char 2, chosen on
//     Quora Question Pairs: see NOTES.md) and L2-normalizes the result.
//
// An empty or all-white-space text has no features; its vector is a fixed
// unit vector whose elements are all ±1/sqrt(dim) (never zero, never NaN),
// nearly orthogonal to every other text's. So are the (rare) texts whose
// features cancel out exactly, each with its own signs.
//
// A 1 KB English prompt takes about 21 µs (median) on one core and
// allocates only its vector (the scratch space is pooled); see NOTES.md.
//
// Lexical similarity is not meaning: "cats" and "dogs" are far apart only
// as words, and two questions that differ in one number or one name score
// high. The cache's guard must check such differences; a threshold around
// 0.9 keeps rewordings, typos and formatting variants and drops most
// related-but-different questions.
//
// # openai
//
// [OpenAI] calls any OpenAI-compatible /v1/embeddings endpoint (OpenAI,
// Ollama, vLLM, TEI) in batches, checks the response and L2-normalizes
// it. Its ID is "openai:<host>/<model>/<dim>". Its errors wrap
// [ErrUpstream] or [ErrBadResponse], so a caller can fall back to exact
// caching with errors.Is.
//
// # Cache
//
// [NewCached] puts an LRU cache in front of any Embedder, so a repeated
// text is embedded once; New does so by default (cache_size 10000).
//
// # Optional abilities
//
// Found by type assertion: [Prober] (settle a remote embedder's dimension
// at start-up) and io.Closer (release idle connections).
//
// The conformance suite every Embedder passes is in package embedtest.
package embed
