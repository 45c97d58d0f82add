// Package wordkeys is a typo-robust candidate channel for the semantic
// cache: for an incoming prompt it proposes the cached prompts of the same
// partition whose words are the same or differ by one word (one word
// substituted, inserted or deleted), such as
//
//	How do I restart my computer in safe mode on Windwos 11?
//	How do I restart my computer in safe mode on Windows 11?
//
// A neural embedding puts such pairs close together, but among a million
// entries of one partition its approximate nearest neighbours often miss
// them. Here they are found by exact hashing, with certainty and at a cost
// that does not grow with the partition. The package only proposes: a
// verifier decides whether a candidate may be served.
//
// # Words
//
// [Words] turns a prompt into the sequence of words the keys are made of:
// runs of Unicode letters, digits and marks, lowercased, apostrophes
// inside words dropped ("Don't" → "dont"), everything else a separator. So
// case, punctuation and spacing never matter, and a mistyped word is one
// substituted word.
//
// # Keys: word deletion neighbourhoods
//
// This is the symmetric-delete idea of SymSpell (Wolf Garbe, 2012), which
// finds misspellings of a word by indexing its character deletions, at
// the level of words. A prompt of n words gets, within its partition, the
// key of its full word sequence and the n keys of the sequence with one
// word deleted. Keys are 64-bit hashes of the partition and the word
// sequence, with no mark of which kind they are: the deletion key of a
// 5-word prompt is the full key of the 4-word prompt it leaves. A lookup
// computes the same keys for the query and collects the entries stored
// under any of them:
//
//	query full     = stored full      same words
//	query full     = stored deletion  the stored prompt has one more word
//	query deletion = stored full      the stored prompt has one word less
//	query deletion = stored deletion  one word substituted (same position)
//
// A word moved elsewhere (two adjacent words swapped, say) is found too:
// deleting it from either prompt leaves the same words. Two changed words
// are not found, except by chance. A run of equal words has one deletion
// key; a one-word prompt has none (its deletion, the empty sequence, is
// shared by every one-word prompt), so it is found only with the same
// word or with a word added or removed.
//
// Prompts of more than Options.LongWords words (default 24) would need
// too many deletion keys; they get 4 block keys instead: the words split
// by position into 4 contiguous blocks, and key b hashes the word count
// and all words outside block b. One substituted word leaves the key of
// its block intact, so substitutions are found; an insertion or deletion
// shifts every block boundary and is left to the embedding channel. An
// insertion or deletion is found when the longer of the two prompts has
// at most LongWords words.
//
// Lookup returns the distinct entries found, same words first, then by
// ID, at most Options.MaxCandidates (default 32). A key shared by many
// entries (the one-word deletion keys of two-word prompts, the common
// words of a template) holds at most Options.MaxPerKey (default 64) of
// them: later entries are not indexed under it, and stay findable through
// their other keys. So a lookup does O(words) probes, each of expected
// constant length, whatever the partition's size and content.
//
// Keys are deterministic (FNV-1a over each word, chained with the
// SplitMix64 finalizer; no random seed), so they are the same across
// restarts and machines. The table keeps and compares 43 of the 64 bits
// at 1M entries (more with fewer): a false candidate from a hash collision
// comes with probability about keys·2^-43 per probe, and the verifier
// rejects it.
//
// # Memory and speed
//
// Each entry costs one 8-byte table slot per key plus one for its ID (to
// find it on Delete), n+2 slots for a prompt of n ≤ 24 words, 6 for a
// longer one, at a table load between 0.7 and 0.9; plus 16 bytes for its
// ID and a bit. There are no per-key lists and no per-entry objects.
// Measured at 1M entries of synthetic prompts of 6 to 20 words (13 on
// average; a Zipf-distributed vocabulary of 30k words) in one partition
// (go test -bench 1M -benchtime 1x, 2-core Xeon at 2.8 GHz, shared):
//
//	heap per entry     173 bytes (load 0.77, 19.3 slots per entry);
//	                   150 to 190 bytes over a growth cycle
//	Add                about 4 µs, 0 allocations; the slowest Add, which
//	                   grows the table, 0.1 to 0.2 s
//	Lookup             about 2.4 µs, 0 allocations, 1.0 candidates on average
//	recall             100% of 100k queries made by one edit of a stored
//	                   prompt: a character typo, a word substituted,
//	                   inserted or deleted
//	Delete             about 1.5 µs, including the sweep, a pause of about
//	                   0.13 s once per 125k deletes at 1M entries
//
// An Add or Lookup is dominated by one cache miss per key, which are
// issued together. A table growth holds the old and new tables at once
// (about 2.3 times the table) for its duration.
//
// # Limits
//
//   - One word edit at most; long prompts: one substitution.
//   - No word segmentation: Chinese, Japanese or Thai text comes out as
//     one word per run of characters, so a typo in it is found only if the
//     prompt has another word. Split or joined words ("e-mail" / "email")
//     are two edits.
//   - Entries past MaxPerKey under one key are not found through it.
//   - Growing the table and sweeping deleted entries are one pass over the
//     table under the write lock, during which lookups wait (times above).
//   - Deleted entries are never returned, but their slots take memory
//     until the next sweep (at most 1/8 more entries).
//   - The index is in memory only; it is rebuilt from the stored prompts.
package wordkeys
