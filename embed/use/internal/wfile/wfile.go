// Package wfile reads and writes the weight file of embed/use: the
// SentencePiece vocabulary and the model's tensors, each stored as float32,
// float16 or int8 (symmetric, one float32 scale per slice along an axis),
// followed by a CRC-32 of everything before it. All numbers are
// little-endian.
//
//	magic   "SGUSE01\n"
//	u32     piece count, then per piece: u16 byte length, UTF-8 bytes, f64 score
//	u32     tensor count, then per tensor:
//	        u16 name length, name, u8 kind (0 f32, 1 f16, 2 int8), u8 rank,
//	        u32 dims[rank],
//	        int8 only: u8 scale axis, f32 scales[dims[axis]],
//	        int8 blocks only (rank 2, r×c): u16 block rows B, f16
//	        scales[ceil(r/B)][c] (one per B consecutive values of a column),
//	        data (row-major)
//	u32     CRC-32 (IEEE) of all the bytes above
package wfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

// Magic opens every weight file.
const Magic = "SGUSE01\n"

// Storage kinds of a tensor.
const (
	F32       = 0
	F16       = 1
	Int8      = 2
	Int8Block = 3
)

// BlockRows is the block height of Int8Block tensors that Encode writes.
const BlockRows = 16

// ErrFormat: the bytes are not a valid weight file.
var ErrFormat = errors.New("wfile: bad weight file")

// Piece is one vocabulary entry.
type Piece struct {
	Text  string
	Score float64
}

// Tensor is a named float32 tensor, decoded.
type Tensor struct {
	Name string
	Dims []int
	Data []float32
}

// File is a decoded weight file.
type File struct {
	Vocab   []Piece
	Tensors map[string]*Tensor
	Order   []string // tensor names in file order
}

// Encode writes f. kindOf picks each tensor's storage kind (and, for Int8,
// the scale axis).
func Encode(f *File, kindOf func(t *Tensor) (kind, axis int)) ([]byte, error) {
	b := []byte(Magic)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(f.Vocab)))
	for _, p := range f.Vocab {
		if len(p.Text) > math.MaxUint16 {
			return nil, fmt.Errorf("%w: piece too long", ErrFormat)
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(len(p.Text)))
		b = append(b, p.Text...)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p.Score))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(f.Order)))
	for _, name := range f.Order {
		t := f.Tensors[name]
		n := 1
		for _, d := range t.Dims {
			n *= d
		}
		if n != len(t.Data) {
			return nil, fmt.Errorf("%w: tensor %s: %d values for dims %v", ErrFormat, name, len(t.Data), t.Dims)
		}
		kind, axis := kindOf(t)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(name)))
		b = append(b, name...)
		b = append(b, byte(kind), byte(len(t.Dims)))
		for _, d := range t.Dims {
			b = binary.LittleEndian.AppendUint32(b, uint32(d))
		}
		switch kind {
		case F32:
			for _, v := range t.Data {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
			}
		case F16:
			for _, v := range t.Data {
				b = binary.LittleEndian.AppendUint16(b, F32ToF16(v))
			}
		case Int8:
			if axis < 0 || axis >= len(t.Dims) {
				return nil, fmt.Errorf("%w: tensor %s: bad axis %d", ErrFormat, name, axis)
			}
			scales, q := Quantize(t.Data, t.Dims, axis)
			b = append(b, byte(axis))
			for _, s := range scales {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(s))
			}
			for _, v := range q {
				b = append(b, byte(v))
			}
		case Int8Block:
			if len(t.Dims) != 2 {
				return nil, fmt.Errorf("%w: tensor %s: int8 blocks need rank 2", ErrFormat, name)
			}
			scales, q := QuantizeBlocks(t.Data, t.Dims[0], t.Dims[1], BlockRows)
			b = binary.LittleEndian.AppendUint16(b, BlockRows)
			for _, s := range scales {
				b = binary.LittleEndian.AppendUint16(b, s)
			}
			for _, v := range q {
				b = append(b, byte(v))
			}
		default:
			return nil, fmt.Errorf("%w: tensor %s: bad kind %d", ErrFormat, name, kind)
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b)), nil
}

// stride returns the number of slices along axis and, for an element index
// i, which slice it belongs to.
func sliceOf(dims []int, axis int) (count int, of func(i int) int) {
	inner := 1
	for _, d := range dims[axis+1:] {
		inner *= d
	}
	count = dims[axis]
	return count, func(i int) int { return (i / inner) % count }
}

// Quantize maps data to int8 with one scale per slice along axis: q =
// round(v / scale), scale = max|v| / 127 over the slice.
func Quantize(data []float32, dims []int, axis int) ([]float32, []int8) {
	count, of := sliceOf(dims, axis)
	maxAbs := make([]float32, count)
	for i, v := range data {
		s := of(i)
		if a := float32(math.Abs(float64(v))); a > maxAbs[s] {
			maxAbs[s] = a
		}
	}
	scales := make([]float32, count)
	for i, m := range maxAbs {
		scales[i] = m / 127
		if m == 0 {
			scales[i] = 1
		}
	}
	q := make([]int8, len(data))
	for i, v := range data {
		r := math.Round(float64(v / scales[of(i)]))
		q[i] = int8(max(-127, min(127, r)))
	}
	return scales, q
}

// QuantizeBlocks maps an r×c matrix to int8 with one float16 scale per
// block of bh consecutive rows of a column: scale = max|v| / 127 over the
// block (rounded to float16), q = round(v / scale).
func QuantizeBlocks(data []float32, r, c, bh int) ([]uint16, []int8) {
	nb := (r + bh - 1) / bh
	scales := make([]uint16, nb*c)
	q := make([]int8, len(data))
	for b := range nb {
		for j := range c {
			var m float32
			for i := b * bh; i < min(r, (b+1)*bh); i++ {
				m = max(m, float32(math.Abs(float64(data[i*c+j]))))
			}
			s := F16ToF32(F32ToF16(m / 127))
			if s == 0 {
				s = 1
			}
			scales[b*c+j] = F32ToF16(s)
			for i := b * bh; i < min(r, (b+1)*bh); i++ {
				v := math.Round(float64(data[i*c+j] / s))
				q[i*c+j] = int8(max(-127, min(127, v)))
			}
		}
	}
	return scales, q
}

// Decode parses a weight file.
func Decode(b []byte) (*File, error) {
	if len(b) < len(Magic)+4 || string(b[:len(Magic)]) != Magic {
		return nil, fmt.Errorf("%w: no magic", ErrFormat)
	}
	body := b[:len(b)-4]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrFormat)
	}
	r := reader{b: body, off: len(Magic)}
	f := &File{Tensors: map[string]*Tensor{}}
	n := int(r.u32())
	if n > len(body) {
		return nil, fmt.Errorf("%w: piece count %d", ErrFormat, n)
	}
	f.Vocab = make([]Piece, n)
	for i := range f.Vocab {
		l := int(r.u16())
		f.Vocab[i] = Piece{Text: string(r.bytes(l)), Score: math.Float64frombits(r.u64())}
	}
	nt := int(r.u32())
	for range nt {
		if r.err != nil {
			break
		}
		name := string(r.bytes(int(r.u16())))
		kind, rank := r.u8(), int(r.u8())
		dims := make([]int, rank)
		total := 1
		for i := range dims {
			dims[i] = int(r.u32())
			total *= dims[i]
			if total > len(body) {
				return nil, fmt.Errorf("%w: tensor %s too large", ErrFormat, name)
			}
		}
		t := &Tensor{Name: name, Dims: dims, Data: make([]float32, total)}
		switch kind {
		case F32:
			raw := r.bytes(4 * total)
			for i := range t.Data {
				if raw != nil {
					t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
				}
			}
		case F16:
			raw := r.bytes(2 * total)
			for i := range t.Data {
				if raw != nil {
					t.Data[i] = F16ToF32(binary.LittleEndian.Uint16(raw[2*i:]))
				}
			}
		case Int8:
			axis := int(r.u8())
			if axis >= rank {
				return nil, fmt.Errorf("%w: tensor %s: axis %d", ErrFormat, name, axis)
			}
			count, of := sliceOf(dims, axis)
			scales := make([]float32, count)
			for i := range scales {
				scales[i] = math.Float32frombits(r.u32())
			}
			raw := r.bytes(total)
			for i := range t.Data {
				if raw != nil {
					t.Data[i] = float32(int8(raw[i])) * scales[of(i)]
				}
			}
		case Int8Block:
			if rank != 2 {
				return nil, fmt.Errorf("%w: tensor %s: int8 blocks need rank 2", ErrFormat, name)
			}
			bh := int(r.u16())
			if bh == 0 {
				return nil, fmt.Errorf("%w: tensor %s: block height 0", ErrFormat, name)
			}
			rows, cols := dims[0], dims[1]
			nb := (rows + bh - 1) / bh
			scales := make([]float32, nb*cols)
			for i := range scales {
				scales[i] = F16ToF32(r.u16())
			}
			raw := r.bytes(total)
			for i := range t.Data {
				if raw != nil {
					t.Data[i] = float32(int8(raw[i])) * scales[(i/cols/bh)*cols+i%cols]
				}
			}
		default:
			return nil, fmt.Errorf("%w: tensor %s: kind %d", ErrFormat, name, kind)
		}
		if _, dup := f.Tensors[name]; dup {
			return nil, fmt.Errorf("%w: tensor %s twice", ErrFormat, name)
		}
		f.Tensors[name] = t
		f.Order = append(f.Order, name)
	}
	if r.err != nil {
		return nil, r.err
	}
	if r.off != len(body) {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrFormat, len(body)-r.off)
	}
	return f, nil
}

type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || r.off+n > len(r.b) {
		if r.err == nil {
			r.err = fmt.Errorf("%w: truncated at byte %d", ErrFormat, r.off)
		}
		return nil
	}
	s := r.b[r.off : r.off+n]
	r.off += n
	return s
}

func (r *reader) u8() byte {
	if s := r.bytes(1); s != nil {
		return s[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if s := r.bytes(2); s != nil {
		return binary.LittleEndian.Uint16(s)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if s := r.bytes(4); s != nil {
		return binary.LittleEndian.Uint32(s)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if s := r.bytes(8); s != nil {
		return binary.LittleEndian.Uint64(s)
	}
	return 0
}

// F32ToF16 rounds f to the nearest IEEE 754 half-precision value (ties to
// even); values beyond the half range become ±Inf, NaN stays NaN.
func F32ToF16(f float32) uint16 {
	x := math.Float32bits(f)
	sign := uint16(x>>16) & 0x8000
	exp := int((x >> 23) & 0xff)
	mant := x & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	exp = exp - 127 + 15
	if exp >= 0x1f {
		return sign | 0x7c00
	}
	if exp <= 0 {
		if exp < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint(14 - exp)
		h := mant >> shift
		rem := mant & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(exp)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, which is right
	}
	return sign | uint16(h)
}

// F16ToF32 widens a half-precision value exactly.
func F16ToF32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: value = mant * 2^-24.
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
}
