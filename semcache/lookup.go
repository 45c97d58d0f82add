package semcache

import (
	"cmp"
	"errors"
	"slices"
	"time"

	"github.com/semgate/semgate/semcache/verify"
	"github.com/semgate/semgate/semcache/wordkeys"
)

// The semantic tier in two steps: retrieve candidates from the partition's
// channels, then verify each against the incoming prompt; only a candidate
// whose every difference is explained is served.

// Verifier decides whether a cached prompt may answer an incoming one
// (verify.Verifier implements it).
type Verifier interface {
	Verify(cached, incoming string, sim float32) verify.Verdict
}

// preparer is a Verifier's optional ability to tokenize the incoming prompt
// once for all candidates.
type preparer interface {
	Prepare(incoming string) *verify.Prepared
}

var (
	_ Verifier = (*verify.Verifier)(nil)
	_ preparer = (*verify.Verifier)(nil)
)

// Checker is an extra veto on a verified candidate (the content Guard
// implements it).
type Checker interface {
	Check(cached, incoming string) (ok bool, reason string)
}

// Channel names how a candidate was found.
type Channel string

const (
	ChannelNeural Channel = "neural" // the embedding index
	ChannelWords  Channel = "words"  // the word-key index (same words, or one word changed)
	ChannelBoth   Channel = "neural+words"
)

// Candidate is a cached entry proposed for a lookup, with the verifier's
// verdict on it.
type Candidate struct {
	Entry   *Entry
	Score   float32 // embedding similarity (0: unknown)
	Channel Channel
	Verdict verify.Verdict
}

// Query is a semantic lookup.
type Query struct {
	// Part is the partition searched.
	Part ID
	// Vec is the lookup's embedding; nil searches the word channel only.
	Vec []float32
	// Prompt is the lookup's prompt as sent (Key.Prompt).
	Prompt string
	// Threshold is the similarity a candidate needs when its similarity is
	// known; retrieval is permissive and the verifier decides.
	Threshold float32
	// Verify decides each candidate; nil serves nothing (a lookup without
	// a verifier cannot justify a hit).
	Verify Verifier
	// Check, if not nil, may veto a verified candidate.
	Check Checker
	// MaxAge, if positive, turns down older entries.
	MaxAge time.Duration
}

// FindSemantic retrieves the partition's candidates for q (the nearest
// entries by embedding, and entries with the same words or one word
// changed), verifies them in order of similarity and returns the first
// justified one. rejected is the most similar candidate the verifier (or
// the checker) refused, for logs and explanations; nil if none.
func (c *Cache) FindSemantic(q *Query) (best, rejected *Candidate, err error) {
	if q.Verify == nil {
		return nil, nil, nil
	}
	cands := c.retrieve(q)
	if len(cands) == 0 {
		return nil, nil, nil
	}
	verifyOne := func(cached string, sim float32) verify.Verdict { return q.Verify.Verify(cached, q.Prompt, sim) }
	if p, ok := q.Verify.(preparer); ok && len(cands) > 1 {
		prep := p.Prepare(q.Prompt) // tokenize the request once for every candidate
		verifyOne = prep.Verify
	}
	now := c.now().UnixMilli()
	budget := maxVerifyBytes
	for i := range cands {
		h := &cands[i]
		if h.scored && h.Score < q.Threshold {
			continue
		}
		if budget <= 0 {
			break // enough verifying for one lookup: the rest are misses
		}
		c.mu.RLock()
		m, ok := c.metas[h.id]
		live := ok && c.usable(m, now, q.MaxAge)
		c.mu.RUnlock()
		if !live {
			continue
		}
		e, err := c.store.getEntry(h.id)
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorrupt) {
			c.dropUnreadable(h.id, m)
			continue
		}
		if err != nil {
			return nil, rejected, err
		}
		budget -= len(e.Prompt) + len(q.Prompt)
		cand := &Candidate{Entry: e, Score: h.Score, Channel: h.channel}
		cand.Verdict = verifyOne(e.Prompt, h.Score)
		if !cand.Verdict.OK {
			c.stats.verifyRejects.Add(1)
			if rejected == nil {
				rejected = cand
			}
			continue
		}
		if q.Check != nil {
			if ok, reason := q.Check.Check(e.Prompt, q.Prompt); !ok {
				c.stats.guardRejects.Add(1)
				cand.Verdict.OK = false
				cand.Verdict.Rule = verify.Class("guard:" + reason)
				if rejected == nil {
					rejected = cand
				}
				continue
			}
		}
		return cand, rejected, nil
	}
	return nil, rejected, nil
}

// maxVerifyBytes bounds the verification work of one lookup (prompt bytes
// compared, both sides): candidates are verified most similar first until
// one is justified or this is spent, so a lookup with long prompts and many
// candidates stays within tens of milliseconds.
const maxVerifyBytes = 4 << 20

// retrieved is a candidate before its entry is read.
type retrieved struct {
	id      ID
	Score   float32
	scored  bool // Score is known
	channel Channel
}

// retrieve gathers candidates from both channels, most similar first
// (candidates of unknown similarity last, in the word channel's order).
func (c *Cache) retrieve(q *Query) []retrieved {
	c.mu.RLock()
	idx := c.parts[q.Part]
	words := c.words
	c.mu.RUnlock()
	var out []retrieved
	if idx != nil && q.Vec != nil {
		for _, h := range idx.Search(q.Vec, c.opts.candidates()) {
			out = append(out, retrieved{id: h.ID, Score: h.Score, scored: true, channel: ChannelNeural})
		}
	}
	var wb [48]string
	ws := wordkeys.Words(q.Prompt, wb[:0])
	var ib [32]wordkeys.ID
	for _, id := range words.Lookup(q.Part, ws, ib[:0]) {
		if i := slices.IndexFunc(out, func(r retrieved) bool { return r.id == id }); i >= 0 {
			out[i].channel = ChannelBoth
			continue
		}
		r := retrieved{id: id, channel: ChannelWords}
		if sc, ok := idx.(Scorer); ok && q.Vec != nil {
			r.Score, r.scored = sc.Score(id, q.Vec)
		}
		out = append(out, r)
		c.stats.wordCandidates.Add(1)
	}
	slices.SortStableFunc(out, func(a, b retrieved) int {
		if a.scored != b.scored {
			if a.scored {
				return -1
			}
			return 1
		}
		return cmp.Compare(b.Score, a.Score)
	})
	return out
}

// WordChannelFinds reports whether the word channel would propose an entry
// whose prompt is cached for a lookup of incoming (same words, or one word
// substituted, inserted or deleted; see package wordkeys).
func (c *Cache) WordChannelFinds(cached, incoming string) bool {
	c.mu.RLock()
	words := c.words
	c.mu.RUnlock()
	return words.Finds(wordkeys.Words(cached, nil), wordkeys.Words(incoming, nil))
}
