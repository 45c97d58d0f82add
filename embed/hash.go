package embed

import (
	"encoding/binary"
	"math/bits"
)

// The lexical embedder's feature hash. It is part of the vector format:
// changing any constant or step here changes every lexical vector, which
// requires bumping lexicalVersion (TestHashGolden guards against accidents).
//
// hashBytes is a small xxHash64-style function: 8-byte little-endian lanes
// mixed with multiply-rotate rounds, the tail packed into one more lane and
// the state finished with the MurmurHash3 64-bit finalizer; an input under
// 8 bytes is packed into one lane, xored into the seeded state and
// finalized. It is seeded per
// feature kind, needs no key, and gives the same value on every platform
// and run (unlike hash/maphash).

const (
	prime1 uint64 = 0x9E3779B185EBCA87
	prime2 uint64 = 0xC2B2AE3D27D4EB4F
	prime3 uint64 = 0x165667B19E3779F9
)

// Seeds separate the feature kinds, so that the word "abc" and the
// character trigram "abc" are different features.
const (
	seedWord     uint64 = 0x5157_4f52_4430_3031 // unigrams
	seedBigram   uint64 = 0x4249_4752_414d_3031 // word bigrams
	seedChar     uint64 = 0x4348_4152_4e47_3031 // character n-grams
	seedFallback uint64 = 0x4641_4c4c_4241_4b31 // degenerate-text vector
)

// fmix64 is MurmurHash3's 64-bit finalizer: every input bit affects every
// output bit.
func fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xFF51AFD7ED558CCD
	h ^= h >> 33
	h *= 0xC4CEB9FE1A85EC53
	h ^= h >> 33
	return h
}

func round(h, k uint64) uint64 {
	h ^= bits.RotateLeft64(k*prime2, 31) * prime1
	return bits.RotateLeft64(h, 27)*prime1 + prime3
}

// hashBytes returns a stable 64-bit hash of b under seed.
func hashBytes(seed uint64, b []byte) uint64 {
	h := seed + prime3 + uint64(len(b))*prime1
	if len(b) < 8 {
		// Short input (most words and character n-grams): one lane, and
		// the finalizer, a bijection, does all the mixing.
		return fmix64(h ^ packShort(b))
	}
	for len(b) >= 8 {
		h = round(h, binary.LittleEndian.Uint64(b))
		b = b[8:]
	}
	if len(b) > 0 {
		h = round(h, packShort(b))
	}
	return fmix64(h)
}

// packShort returns the up to 7 bytes of b as a little-endian integer.
func packShort(b []byte) uint64 {
	var k uint64
	for i := len(b) - 1; i >= 0; i-- {
		k = k<<8 | uint64(b[i])
	}
	return k
}

// shortBase returns the state hashBytes mixes a short input of n bytes
// into, for callers that pack the input themselves.
func shortBase(seed uint64, n int) uint64 { return seed + prime3 + uint64(n)*prime1 }

// hashPair combines two feature hashes into the hash of the ordered pair.
func hashPair(seed, a, b uint64) uint64 {
	return fmix64(round(round(seed+prime3, a), b))
}

// bucket maps a feature hash to a coordinate in [0, dim) with Lemire's
// multiply-shift reduction of its low 32 bits, and to a sign taken from its
// top bit, which the reduction does not use.
func bucket(h uint64, dim int) (int, bool) {
	return int((h & 0xFFFF_FFFF) * uint64(dim) >> 32), h>>63 == 1
}
