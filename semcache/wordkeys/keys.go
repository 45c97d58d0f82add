package wordkeys

import "encoding/binary"

// Hashing. Keys must be stable across restarts and machines, so the hash
// is implemented here with fixed constants: each word is hashed once with
// 64-bit FNV-1a, and a key chains the partition and the word hashes
// through the SplitMix64 finalizer, h = mix(h ^ word). The chain is order-
// and length-sensitive, so a key is, up to 64-bit collisions, the
// partition plus the exact word sequence; and since full and deletion keys
// are the same function of a word sequence, the deletion key of a 5-word
// prompt equals the full key of the 4-word prompt it leaves.

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211

	// Domain seeds: block keys and ID keys must not meet word-sequence keys.
	seedPart  = 0x6a09e667f3bcc908
	seedBlock = 0xbb67ae8584caa73b
	seedID    = 0x3c6ef372fe94f82b

	// blocks is the number of blocks a long prompt is keyed by.
	blocks = 4
)

func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func wordHash(w string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(w); i++ {
		h ^= uint64(w[i])
		h *= fnvPrime
	}
	return h
}

func partHash(p ID) uint64 {
	return mix(mix(binary.LittleEndian.Uint64(p[:8])^seedPart) ^ binary.LittleEndian.Uint64(p[8:]))
}

func idKey(id ID) uint64 {
	return mix(mix(binary.LittleEndian.Uint64(id[:8])^seedID) ^ binary.LittleEndian.Uint64(id[8:]))
}

// chain continues h over the word hashes ws.
func chain(h uint64, ws []uint64) uint64 {
	for _, w := range ws {
		h = mix(h ^ w)
	}
	return h
}

// key is one hash key of a word sequence; full marks the key of the whole
// sequence (as opposed to a deletion or block key).
type key struct {
	h    uint64
	full bool
}

// keysOf appends the keys of the word sequence with hashes ws in partition
// p to dst: the full key; then, for 2 to long words, one deletion key per
// word (a run of equal words yields one); for more than long words, one
// key per block of the 4 contiguous blocks, each over the words outside
// its block and seeded with the word count. A single word has no deletion
// key: its only deletion is the empty sequence, shared by every one-word
// prompt. No words, no keys.
func keysOf(p ID, ws []uint64, long int, dst []key) []key {
	n := len(ws)
	if n == 0 {
		return dst
	}
	ph := partHash(p)
	switch {
	case n > long:
		dst = append(dst, key{chain(ph, ws), true})
		bh := mix(mix(ph^seedBlock) ^ uint64(n))
		for b := range blocks {
			lo, hi := b*n/blocks, (b+1)*n/blocks
			dst = append(dst, key{chain(chain(bh, ws[:lo]), ws[hi:]), false})
		}
	case n == 1:
		dst = append(dst, key{chain(ph, ws), true})
	default:
		// prefix is the chain over ws[:i]: deletion key i continues it
		// over ws[i+1:], and the full key is the prefix over all of ws.
		prefix := ph
		for i, w := range ws {
			if i == 0 || w != ws[i-1] {
				dst = append(dst, key{chain(prefix, ws[i+1:]), false})
			}
			prefix = mix(prefix ^ w)
		}
		dst = append(dst, key{prefix, true})
	}
	return dst
}

// sharesKey reports whether two key sets have a hash in common: what makes
// a lookup with one propose an entry stored with the other.
func sharesKey(a, b []key) bool {
	for _, x := range a {
		for _, y := range b {
			if x.h == y.h {
				return true
			}
		}
	}
	return false
}
