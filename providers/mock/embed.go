package mock

import (
	"encoding/base64"
	"encoding/binary"
	"math"
	"strconv"
)

// appendEmbeddings appends an embeddings list object.
func (c *core) appendEmbeddings(dst []byte, r *request) []byte {
	dims := r.dims
	if dims == 0 {
		dims = c.dims
	}
	dst = append(dst, `{"object":"list","data":[`...)
	for i, in := range r.inputs {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"object":"embedding","index":`...)
		dst = appendInt(dst, i)
		dst = append(dst, `,"embedding":`...)
		v := newVector(in.hash, dims)
		if r.base64 {
			dst = v.appendBase64(dst)
		} else {
			dst = v.appendFloats(dst)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `],"model":`...)
	dst = appendJSONString(dst, r.model)
	dst = append(dst, `,"usage":{"prompt_tokens":`...)
	dst = appendInt(dst, r.promptTokens)
	dst = append(dst, `,"total_tokens":`...)
	dst = appendInt(dst, r.promptTokens)
	return append(dst, "}}"...)
}

// vector is a deterministic unit vector, generated on the fly: raw
// components uniform in [-1, 1) from a PRNG seeded by the input's hash,
// scaled to unit length. A shorter vector is the rescaled prefix of a
// longer one.
type vector struct {
	seed  uint64
	dims  int
	scale float64
}

func newVector(seed uint64, dims int) vector {
	v := vector{seed: seed, dims: dims}
	r := rng{s: seed}
	sum := 0.0
	for range dims {
		x := raw(&r)
		sum += x * x
	}
	v.scale = 1 / math.Sqrt(sum)
	return v
}

func raw(r *rng) float64 { return float64(r.next()>>11)*(2.0/(1<<53)) - 1 }

// appendFloats appends the vector as a JSON array of float32 values in
// their shortest round-tripping form.
func (v vector) appendFloats(dst []byte) []byte {
	dst = append(dst, '[')
	r := rng{s: v.seed}
	for i := range v.dims {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendFloat(dst, float64(float32(raw(&r)*v.scale)), 'g', -1, 32)
	}
	return append(dst, ']')
}

// appendBase64 appends the vector as a JSON string: standard base64 of its
// little-endian float32 values.
func (v vector) appendBase64(dst []byte) []byte {
	dst = append(dst, '"')
	var group [12]byte // 3 floats = 16 base64 characters, no padding
	n := 0
	r := rng{s: v.seed}
	for range v.dims {
		binary.LittleEndian.PutUint32(group[n:], math.Float32bits(float32(raw(&r)*v.scale)))
		if n += 4; n == len(group) {
			dst = base64.StdEncoding.AppendEncode(dst, group[:])
			n = 0
		}
	}
	dst = base64.StdEncoding.AppendEncode(dst, group[:n])
	return append(dst, '"')
}
