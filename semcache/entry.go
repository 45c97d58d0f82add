package semcache

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"
)

// Entry is one cached answer.
type Entry struct {
	ID        ID `json:"-"`
	Partition ID `json:"-"`
	// Kind is the endpoint: "chat" or "completions".
	Kind string `json:"kind"`
	// Model is the public alias the request named.
	Model string `json:"model"`
	// Namespace is the request's x-semgate-cache-namespace, if any.
	Namespace string `json:"namespace,omitempty"`
	// Tenant is the KeyInput.Tenant the entry was keyed under, kept in
	// its metadata record for listing and flushing by tenant; opaque to
	// the cache. Entries stored before it was recorded have "".
	Tenant string `json:"tenant,omitempty"`
	// Provider and UpstreamModel name the deployment that answered.
	Provider      string `json:"provider"`
	UpstreamModel string `json:"upstream_model"`
	// Prompt is the last user message as sent; the content guard compares
	// it with a semantic candidate's.
	Prompt string `json:"prompt"`
	// Body is the answer exactly as the upstream sent it: a JSON body, or,
	// when Stream is set, the stream's events in the stored form of package
	// answer (answer.EncodeEvents).
	Body   []byte `json:"-"`
	Stream bool   `json:"stream,omitempty"`
	// Convertible records, checked once when the answer was stored, that
	// it can be served in the other form (a stream as JSON, JSON as a
	// stream) without losing a field.
	Convertible bool `json:"convertible,omitempty"`
	// PromptTokens and CompletionTokens are the original answer's usage.
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	// CostUSD is what the original answer cost; each hit saves it again.
	CostUSD float64 `json:"cost_usd"`
	// Embedder is the ID of the embedder whose vector indexes this entry;
	// empty when the entry is exact-only.
	Embedder string    `json:"embedder,omitempty"`
	Created  time.Time `json:"-"`
	Expires  time.Time `json:"-"` // zero: never
	// Hits and LastHit are kept in the entry's metadata record.
	Hits    int64     `json:"-"`
	LastHit time.Time `json:"-"`
	// Semantic, set by the caller of Put, makes the entry a candidate for
	// semantic lookups by its words (the typo-robust channel) as well as by
	// its vector. Not stored in the entry record.
	Semantic bool `json:"-"`
}

// Entry records are binary: a version byte, fixed-width numbers, then
// length-prefixed strings and the body, so serving a hit parses nothing.
// Version 3 holds the answer as sent (JSON or stream events) and a flags
// byte (1: stream, 2: convertible); version 2 held streams assembled into
// JSON and is no longer read (see AnswerFormat).
const entryVersion = 3

const (
	entryFlagStream      = 1
	entryFlagConvertible = 2
)

func encodeEntry(e *Entry) ([]byte, error) {
	strs := [...]string{e.Kind, e.Model, e.Namespace, e.Provider, e.UpstreamModel, e.Prompt, e.Embedder}
	n := 1 + 16 + 8*4 + 1 + 8 + 4 + len(e.Body)
	for _, s := range strs {
		n += 4 + len(s)
	}
	b := make([]byte, 0, n)
	b = append(b, entryVersion)
	b = append(b, e.Partition[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(e.Created.UnixMilli()))
	b = binary.BigEndian.AppendUint64(b, uint64(unixMilli(e.Expires)))
	b = binary.BigEndian.AppendUint64(b, uint64(e.PromptTokens))
	b = binary.BigEndian.AppendUint64(b, uint64(e.CompletionTokens))
	var flags byte
	if e.Stream {
		flags |= entryFlagStream
	}
	if e.Convertible {
		flags |= entryFlagConvertible
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(e.CostUSD))
	for _, s := range strs {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(e.Body)))
	return append(b, e.Body...), nil
}

func decodeEntry(id ID, b []byte) (*Entry, error) {
	const fixed = 1 + 16 + 8*4 + 1 + 8
	if len(b) > 0 && b[0] < entryVersion {
		return nil, fmt.Errorf("%w (%w): entry %x has version %d", ErrStale, ErrCorrupt, id, b[0])
	}
	if len(b) < fixed || b[0] != entryVersion {
		return nil, fmt.Errorf("%w: entry %x: bad header", ErrCorrupt, id)
	}
	e := &Entry{ID: id}
	copy(e.Partition[:], b[1:17])
	e.Created = time.UnixMilli(int64(binary.BigEndian.Uint64(b[17:])))
	if exp := int64(binary.BigEndian.Uint64(b[25:])); exp != 0 {
		e.Expires = time.UnixMilli(exp)
	}
	e.PromptTokens = int(binary.BigEndian.Uint64(b[33:]))
	e.CompletionTokens = int(binary.BigEndian.Uint64(b[41:]))
	e.Stream = b[49]&entryFlagStream != 0
	e.Convertible = b[49]&entryFlagConvertible != 0
	e.CostUSD = math.Float64frombits(binary.BigEndian.Uint64(b[50:]))
	rest := b[fixed:]
	for _, dst := range [...]*string{&e.Kind, &e.Model, &e.Namespace, &e.Provider, &e.UpstreamModel, &e.Prompt, &e.Embedder} {
		s, r, ok := readBytes32(rest)
		if !ok {
			return nil, fmt.Errorf("%w: entry %x: truncated", ErrCorrupt, id)
		}
		*dst, rest = string(s), r
	}
	body, rest, ok := readBytes32(rest)
	if !ok || len(rest) != 0 {
		return nil, fmt.Errorf("%w: entry %x: bad body", ErrCorrupt, id)
	}
	e.Body = append([]byte(nil), body...)
	return e, nil
}

func readBytes32(b []byte) ([]byte, []byte, bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(len(b)-4) < uint64(n) {
		return nil, nil, false
	}
	return b[4 : 4+n], b[4+n:], true
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// ErrCorrupt: a stored record could not be decoded.
var ErrCorrupt = errors.New("semcache: corrupt record")

// ErrStale: a stored entry was written under an older answer format; it
// is dropped, never served.
var ErrStale = errors.New("semcache: entry in an older format")

// ParseID parses a 32-character hex key.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("semcache: key %q is not 32 hex characters", s)
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("semcache: key %q: %w", s, err)
	}
	return id, nil
}

// String returns the ID in hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// meta is the small record kept in memory for every entry, and stored
// under its own key so start-up, eviction and hit counting never read
// answer bodies.
type meta struct {
	partition ID
	created   int64 // unix ms
	expires   int64 // unix ms, 0 = never
	size      int32 // bytes of the entry record
	hits      int64
	lastHit   int64 // unix ms, 0 = never
	model     string
	namespace string
	embedder  string // "" when the entry has no vector
	tenant    string // Entry.Tenant; "" in records written before it was kept
	words     bool   // in memory only: Put indexed the prompt's words
}

// metaVersion 1 records end with the embedder, or (since the tenant was
// kept) with the embedder and the tenant: a reader ignores what follows
// the fields it knows, so both layouts stay readable either way.
const metaVersion = 1

func (m *meta) encode() []byte {
	b := make([]byte, 0, 1+16+8*4+4+8+len(m.model)+len(m.namespace)+len(m.embedder)+len(m.tenant))
	b = append(b, metaVersion)
	b = append(b, m.partition[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(m.created))
	b = binary.BigEndian.AppendUint64(b, uint64(m.expires))
	b = binary.BigEndian.AppendUint32(b, uint32(m.size))
	b = binary.BigEndian.AppendUint64(b, uint64(m.hits))
	b = binary.BigEndian.AppendUint64(b, uint64(m.lastHit))
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.model)))
	b = append(b, m.model...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.namespace)))
	b = append(b, m.namespace...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.embedder)))
	b = append(b, m.embedder...)
	if m.tenant == "" || len(m.tenant) > 0xFFFF {
		return b
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.tenant)))
	return append(b, m.tenant...)
}

func decodeMeta(b []byte) (*meta, error) {
	const fixed = 1 + 16 + 8 + 8 + 4 + 8 + 8
	if len(b) < fixed+2 || b[0] != metaVersion {
		return nil, fmt.Errorf("%w: metadata record", ErrCorrupt)
	}
	m := &meta{}
	copy(m.partition[:], b[1:17])
	m.created = int64(binary.BigEndian.Uint64(b[17:]))
	m.expires = int64(binary.BigEndian.Uint64(b[25:]))
	m.size = int32(binary.BigEndian.Uint32(b[33:]))
	m.hits = int64(binary.BigEndian.Uint64(b[37:]))
	m.lastHit = int64(binary.BigEndian.Uint64(b[45:]))
	rest := b[fixed:]
	s, rest, ok := readString16(rest)
	if !ok {
		return nil, fmt.Errorf("%w: metadata record", ErrCorrupt)
	}
	m.model = s
	s, rest, ok = readString16(rest)
	if !ok {
		return nil, fmt.Errorf("%w: metadata record", ErrCorrupt)
	}
	m.namespace = s
	s, rest, ok = readString16(rest)
	if !ok {
		return nil, fmt.Errorf("%w: metadata record", ErrCorrupt)
	}
	m.embedder = s
	if s, _, ok := readString16(rest); ok {
		m.tenant = s // absent in records written before tenants were kept
	}
	return m, nil
}

func readString16(b []byte) (string, []byte, bool) {
	if len(b) < 2 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return "", nil, false
	}
	return string(b[2 : 2+n]), b[2+n:], true
}

// expired reports whether the entry is past its expiry at now (unix ms).
func (m *meta) expired(now int64) bool { return m.expires != 0 && now >= m.expires }

// recency orders entries for eviction: the last hit, or creation if never
// hit.
func (m *meta) recency() int64 {
	if m.lastHit > m.created {
		return m.lastHit
	}
	return m.created
}
