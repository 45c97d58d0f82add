package hnsw

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"slices"
	"unsafe"

	"github.com/semgate/semgate/semcache"
)

// Snapshot format constants (see the package documentation).
const (
	snapMagic   = "SGHNSW\x00\x01"
	snapVersion = 1
	fixedHeader = 16 // magic, version, checksum
	maxIDLen    = 1024
)

var (
	castagnoli   = crc32.MakeTable(crc32.Castagnoli)
	littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1
)

// WriteSnapshot writes the index to w, stamped with embedderID so that a
// snapshot of another vector space is never loaded. Free slots are
// compacted away; tombstones are kept (they route searches). It holds the
// writer lock only to copy the graph (node states, levels and links, about
// 4·(2M+1) bytes a node: 200 MB at 1M vectors and M=24, tens of
// milliseconds) and encodes and writes outside it, so writes wait for the
// copy only and searches not at all. The vectors and ids are not copied:
// until the snapshot is written no slot is reused, so the ones it reads do
// not change. The body is encoded twice, once for the checksum in the
// header and once to w.
func (x *Index) WriteSnapshot(w io.Writer, embedderID string) error {
	if len(embedderID) > maxIDLen {
		return fmt.Errorf("hnsw: embedder id longer than %d bytes", maxIDLen)
	}
	f := x.freeze()
	defer x.thaw()
	if x.snapHook != nil {
		x.snapHook()
	}
	return f.writeSnapshot(w, embedderID)
}

// freeze returns a copy of the index for a snapshot: the graph copied, the
// vectors and ids shared. Until thaw, no free slot is reused (allocSlot
// appends instead), so the shared vectors and ids of the copy's nodes stay
// as they are: a live node's vector is never overwritten (an update takes a
// new slot), and appending writes past the copy's length or into a new
// array.
func (x *Index) freeze() *Index {
	x.wmu.Lock()
	defer x.wmu.Unlock()
	x.frozen++
	f := &Index{
		dim: x.dim, m: x.m, m0: x.m0, stride: x.stride, ustr: x.ustr,
		mode: x.mode, entry: x.entry, maxLevel: x.maxLevel, live: x.live, dead: x.dead,
		vecs: x.vecs[:len(x.vecs):len(x.vecs)], ids: x.ids[:len(x.ids):len(x.ids)],
		state: slices.Clone(x.state), level: slices.Clone(x.level), upperOff: slices.Clone(x.upperOff),
		upper: slices.Clone(x.upper),
	}
	if x.links0 != nil {
		f.links0 = slices.Clone(x.links0)
	}
	return f
}

// thaw ends a freeze.
func (x *Index) thaw() {
	x.wmu.Lock()
	x.frozen--
	x.wmu.Unlock()
}

// writeSnapshot encodes a frozen copy (see freeze) to w.
func (x *Index) writeSnapshot(w io.Writer, embedderID string) error {
	// remap numbers the non-free nodes densely.
	n := 0
	remap := make([]uint32, len(x.state))
	for i, s := range x.state {
		remap[i] = uint32(n)
		if s != stFree {
			n++
		}
	}
	crc := crc32.New(castagnoli)
	if err := x.encode(crc, embedderID, remap, n); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	var fixed [fixedHeader]byte
	copy(fixed[:], snapMagic)
	binary.LittleEndian.PutUint32(fixed[8:], snapVersion)
	binary.LittleEndian.PutUint32(fixed[12:], crc.Sum32())
	if _, err := bw.Write(fixed[:]); err != nil {
		return fmt.Errorf("hnsw: write snapshot: %w", err)
	}
	if err := x.encode(bw, embedderID, remap, n); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("hnsw: write snapshot: %w", err)
	}
	return nil
}

// encode writes everything after the fixed header. n nodes are kept.
func (x *Index) encode(w io.Writer, embedderID string, remap []uint32, n int) error {
	e := encoder{w: w}
	e.u16(uint16(len(embedderID)))
	e.bytes([]byte(embedderID))
	e.u32(uint32(x.dim))
	e.u32(uint32(x.m))
	e.u64(uint64(x.live))
	e.u64(uint64(n))
	e.u8(uint8(x.mode))
	entry, maxLevel := uint32(0), uint32(0xFFFFFFFF)
	if x.maxLevel >= 0 {
		entry, maxLevel = remap[x.entry], uint32(x.maxLevel)
	}
	e.u32(entry)
	e.u32(maxLevel)
	compact := n == len(x.state)
	var buf []byte
	// state and level
	buf = buf[:0]
	for i, s := range x.state {
		if s == stFree {
			continue
		}
		if s == stCondemned {
			s = stDead
		}
		buf = append(buf, s)
		if len(buf) >= 1<<16 {
			e.bytes(buf)
			buf = buf[:0]
		}
		_ = i
	}
	e.bytes(buf)
	buf = buf[:0]
	for i, s := range x.state {
		if s != stFree {
			buf = append(buf, x.level[i])
		}
		if len(buf) >= 1<<16 {
			e.bytes(buf)
			buf = buf[:0]
		}
	}
	e.bytes(buf)
	if compact {
		e.bytes(asBytes(x.ids))
		e.u32s(asU32(x.vecs))
	} else {
		for i, s := range x.state {
			if s != stFree {
				e.bytes(x.ids[i][:])
			}
		}
		for i, s := range x.state {
			if s != stFree {
				e.u32s(asU32(x.vec(uint32(i))))
			}
		}
	}
	// Layer 0 (absent in flat mode), then the upper blocks in node order.
	if x.mode != modeFlat {
		tmp := make([]uint32, 0, x.stride)
		for i, s := range x.state {
			if s == stFree {
				continue
			}
			tmp = tmp[:0]
			ls := x.links(uint32(i), 0)
			tmp = append(tmp, uint32(len(ls)))
			for _, t := range ls {
				tmp = append(tmp, remap[t])
			}
			tmp = tmp[:x.stride] // unused words are zero or stale; write zeros
			clear(tmp[1+len(ls):])
			e.u32s(tmp)
		}
		for i, s := range x.state {
			if s == stFree {
				continue
			}
			for l := 1; l <= int(x.level[i]); l++ {
				tmp = tmp[:0]
				ls := x.links(uint32(i), l)
				tmp = append(tmp, uint32(len(ls)))
				for _, t := range ls {
					tmp = append(tmp, remap[t])
				}
				tmp = tmp[:x.ustr]
				clear(tmp[1+len(ls):])
				e.u32s(tmp)
			}
		}
	}
	if e.err != nil {
		return fmt.Errorf("hnsw: write snapshot: %w", e.err)
	}
	return nil
}

// ReadSnapshot loads an index written by WriteSnapshot. It returns an
// error wrapping ErrSnapshotMismatch when the snapshot is of another
// format version, embedder, dimension or M, and ErrCorruptSnapshot when it
// is truncated, fails its checksum or is not a valid graph; either way the
// caller rebuilds from the source of truth. It never panics on bad input
// and allocates in proportion to the bytes actually read.
func ReadSnapshot(r io.Reader, embedderID string, dim int, o Options) (*Index, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if dim < 1 {
		return nil, fmt.Errorf("%w: dimension %d", ErrSnapshotMismatch, dim)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	var fixed [fixedHeader]byte
	if _, err := io.ReadFull(br, fixed[:]); err != nil {
		return nil, corrupt("header: %v", err)
	}
	if string(fixed[:8]) != snapMagic {
		return nil, corrupt("bad magic")
	}
	if v := binary.LittleEndian.Uint32(fixed[8:]); v != snapVersion {
		return nil, fmt.Errorf("%w: format version %d, want %d", ErrSnapshotMismatch, v, snapVersion)
	}
	want := binary.LittleEndian.Uint32(fixed[12:])
	d := decoder{r: br, h: crc32.New(castagnoli)}
	idLen := int(d.u16())
	if d.err == nil && idLen > maxIDLen {
		return nil, corrupt("embedder id of %d bytes", idLen)
	}
	gotID := string(d.bytes(idLen))
	sDim, sM := int(d.u32()), int(d.u32())
	live, n := d.u64(), d.u64()
	md := mode(d.u8())
	entry, maxLevel := d.u32(), d.u32()
	if d.err != nil {
		return nil, corrupt("header: %v", d.err)
	}
	x := New(dim, o)
	switch {
	case gotID != embedderID:
		return nil, fmt.Errorf("%w: embedder %q, want %q", ErrSnapshotMismatch, gotID, embedderID)
	case sDim != dim:
		return nil, fmt.Errorf("%w: dimension %d, want %d", ErrSnapshotMismatch, sDim, dim)
	case sM != x.m:
		return nil, fmt.Errorf("%w: m %d, want %d", ErrSnapshotMismatch, sM, x.m)
	case n >= 1<<31 || live > n:
		return nil, corrupt("%d live of %d nodes", live, n)
	case md > modeGraph:
		return nil, corrupt("mode %d", md)
	}
	nn := int(n)
	x.state = readSlice[uint8](&d, nn)
	x.level = readSlice[uint8](&d, nn)
	x.ids = readSlice[semcache.ID](&d, nn)
	x.vecs = asF32(readSlice[uint32](&d, nn*dim))
	if d.err != nil {
		return nil, corrupt("nodes: %v", d.err)
	}
	upperLen := 0
	for _, l := range x.level {
		upperLen += int(l) * x.ustr
	}
	x.links0 = nil // flat: no layer 0 until migration (New made one for flat_limit -1)
	if md != modeFlat {
		x.links0 = readSlice[uint32](&d, nn*x.stride)
		x.upper = readSlice[uint32](&d, upperLen)
	}
	if d.err != nil {
		return nil, corrupt("links: %v", d.err)
	}
	if got := d.h.Sum32(); got != want {
		return nil, corrupt("checksum %08x, header says %08x", got, want)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, corrupt("trailing data")
	}
	if !littleEndian {
		swap32(asU32(x.vecs))
		swap32(x.links0)
		swap32(x.upper)
	}
	x.mode = md
	x.maxLevel = -1
	if maxLevel != 0xFFFFFFFF {
		x.entry, x.maxLevel = entry, int(maxLevel)
	}
	if err := x.validate(int(live)); err != nil {
		return nil, err
	}
	x.rng = rand.New(rand.NewPCG(x.o.Seed, uint64(n)))
	x.migCursor = 0
	return x, nil
}

// validate checks a decoded graph so that no search or write can index
// out of range, rebuilds the id map and the writer's lists, and lays out
// the upper blocks.
func (x *Index) validate(live int) error {
	n := len(x.state)
	x.upperOff = make([]uint32, n)
	off := 0
	linked, unlinked := 0, 0
	for i, s := range x.state {
		switch s {
		case stLive, stDead:
			linked++
		case stLive | fUnlinked:
			unlinked++
		default:
			return corrupt("node %d: state %#x", i, s)
		}
		l := int(x.level[i])
		if l > maxLevelCap || (x.maxLevel >= 0 && l > x.maxLevel) || (s&fUnlinked != 0 && l != 0) {
			return corrupt("node %d: level %d", i, l)
		}
		x.upperOff[i] = uint32(off)
		off += l * x.ustr
	}
	switch {
	case x.mode == modeFlat && linked > 0:
		return corrupt("flat snapshot with a graph")
	case x.mode == modeGraph && unlinked > 0:
		return corrupt("graph snapshot with unlinked nodes")
	case (linked > 0) != (x.maxLevel >= 0):
		return corrupt("entry point")
	case x.maxLevel >= 0 && (int(x.entry) >= n || !x.linked(x.entry) || int(x.level[x.entry]) != x.maxLevel):
		return corrupt("entry point %d", x.entry)
	}
	if x.mode != modeFlat {
		for i := range n {
			u := uint32(i)
			for l := 0; l <= int(x.level[i]); l++ {
				var cnt uint32
				if l == 0 {
					cnt = x.links0[i*x.stride]
				} else {
					cnt = x.upper[int(x.upperOff[i])+(l-1)*x.ustr]
				}
				if int(cnt) > x.maxLinks(l) || (cnt > 0 && !x.linked(u)) {
					return corrupt("node %d layer %d: %d links", i, l, cnt)
				}
				for _, t := range x.links(u, l) {
					if int(t) >= n || t == u || !x.linked(t) || int(x.level[t]) < l {
						return corrupt("node %d layer %d: link to %d", i, l, t)
					}
				}
			}
		}
	}
	x.pos = make(map[semcache.ID]uint32, live)
	x.live, x.dead = 0, 0
	for i, s := range x.state {
		if s == stDead {
			x.dead++
			x.deadList = append(x.deadList, uint32(i))
			continue
		}
		if _, dup := x.pos[x.ids[i]]; dup {
			return corrupt("duplicate id at node %d", i)
		}
		x.pos[x.ids[i]] = uint32(i)
		x.live++
	}
	if x.live != live {
		return corrupt("%d live nodes, header says %d", x.live, live)
	}
	return nil
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorruptSnapshot, fmt.Sprintf(format, args...))
}

// encoder writes little-endian values, remembering the first error.
type encoder struct {
	w   io.Writer
	err error
	b   [8]byte
	buf []byte
}

func (e *encoder) bytes(b []byte) {
	if e.err == nil && len(b) > 0 {
		_, e.err = e.w.Write(b)
	}
}
func (e *encoder) u8(v uint8)   { e.bytes([]byte{v}) }
func (e *encoder) u16(v uint16) { binary.LittleEndian.PutUint16(e.b[:], v); e.bytes(e.b[:2]) }
func (e *encoder) u32(v uint32) { binary.LittleEndian.PutUint32(e.b[:], v); e.bytes(e.b[:4]) }
func (e *encoder) u64(v uint64) { binary.LittleEndian.PutUint64(e.b[:], v); e.bytes(e.b[:8]) }

// u32s writes s as little-endian words: its memory as is on little-endian
// hosts, converted in chunks elsewhere.
func (e *encoder) u32s(s []uint32) {
	if littleEndian {
		e.bytes(asBytes(s))
		return
	}
	for len(s) > 0 && e.err == nil {
		c := min(len(s), 1<<14)
		e.buf = e.buf[:0]
		for _, v := range s[:c] {
			e.buf = binary.LittleEndian.AppendUint32(e.buf, v)
		}
		e.bytes(e.buf)
		s = s[c:]
	}
}

// decoder reads little-endian values through the checksum, remembering
// the first error.
type decoder struct {
	r   io.Reader
	h   hash.Hash32
	err error
	b   [8]byte
}

func (d *decoder) read(b []byte) {
	if d.err != nil {
		return
	}
	if _, err := io.ReadFull(d.r, b); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		d.err = err
		return
	}
	d.h.Write(b)
}

func (d *decoder) bytes(n int) []byte {
	b := make([]byte, n)
	d.read(b)
	return b
}
func (d *decoder) u8() uint8   { d.read(d.b[:1]); return d.b[0] }
func (d *decoder) u16() uint16 { d.read(d.b[:2]); return binary.LittleEndian.Uint16(d.b[:]) }
func (d *decoder) u32() uint32 { d.read(d.b[:4]); return binary.LittleEndian.Uint32(d.b[:]) }
func (d *decoder) u64() uint64 { d.read(d.b[:8]); return binary.LittleEndian.Uint64(d.b[:]) }

// readSlice reads n elements of T's memory layout. It grows the slice as
// bytes arrive, so a header claiming a huge count costs no more memory
// than the data actually present.
func readSlice[T any](d *decoder, n int) []T {
	const chunkBytes = 1 << 24
	var zero T
	size := int(unsafe.Sizeof(zero))
	chunk := max(1, chunkBytes/size)
	s := []T{} // non-nil even when empty: a nil layer 0 means flat mode
	for len(s) < n && d.err == nil {
		c := min(n-len(s), chunk)
		if cap(s)-len(s) < c {
			t := make([]T, len(s), min(n, max(2*cap(s), len(s)+c)))
			copy(t, s)
			s = t
		}
		d.read(asBytes(s[len(s) : len(s)+c]))
		s = s[:len(s)+c]
	}
	if d.err != nil {
		return nil
	}
	return s
}

// asBytes views a slice's memory as bytes.
func asBytes[T any](s []T) []byte {
	if len(s) == 0 {
		return nil
	}
	var zero T
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(zero)))
}

func asU32(s []float32) []uint32 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

func asF32(s []uint32) []float32 {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

func swap32(s []uint32) {
	for i, v := range s {
		s[i] = v>>24 | v>>8&0xFF00 | v<<8&0xFF0000 | v<<24
	}
}
