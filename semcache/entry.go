package semcache

import (
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
	// Provider and UpstreamModel name the deployment that answered.
	Provider      string `json:"provider"`
	UpstreamModel string `json:"upstream_model"`
	// Prompt is the last user message as sent; the content guard compares
	// it with a semantic candidate's.
	Prompt string `json:"prompt"`
	// Body is the answer as a non-streamed OpenAI JSON response (streamed
	// answers are stored assembled); Stream records which form it came in.
	Body   json.RawMessage `json:"body"`
	Stream bool            `json:"stream,omitempty"`
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
}

// entryJSON adds the fields that JSON would render awkwardly.
type entryJSON struct {
	*Entry
	V         int    `json:"v"`
	Partition string `json:"partition"`
	Created   int64  `json:"created_ms"`
	Expires   int64  `json:"expires_ms,omitempty"`
}

const entryVersion = 1

func encodeEntry(e *Entry) ([]byte, error) {
	return json.Marshal(entryJSON{Entry: e, V: entryVersion, Partition: hex.EncodeToString(e.Partition[:]),
		Created: e.Created.UnixMilli(), Expires: unixMilli(e.Expires)})
}

func decodeEntry(id ID, b []byte) (*Entry, error) {
	e := &Entry{}
	j := entryJSON{Entry: e}
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%w: entry %x: %v", ErrCorrupt, id, err)
	}
	if j.V != entryVersion {
		return nil, fmt.Errorf("%w: entry %x has version %d", ErrCorrupt, id, j.V)
	}
	p, err := ParseID(j.Partition)
	if err != nil {
		return nil, fmt.Errorf("%w: entry %x: %v", ErrCorrupt, id, err)
	}
	e.ID, e.Partition = id, p
	e.Created = time.UnixMilli(j.Created)
	if j.Expires != 0 {
		e.Expires = time.UnixMilli(j.Expires)
	}
	return e, nil
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// ErrCorrupt: a stored record could not be decoded.
var ErrCorrupt = errors.New("semcache: corrupt record")

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
}

const metaVersion = 1

func (m *meta) encode() []byte {
	b := make([]byte, 0, 1+16+8*4+4+6+len(m.model)+len(m.namespace)+len(m.embedder))
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
	return append(b, m.embedder...)
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
	s, _, ok = readString16(rest)
	if !ok {
		return nil, fmt.Errorf("%w: metadata record", ErrCorrupt)
	}
	m.embedder = s
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
