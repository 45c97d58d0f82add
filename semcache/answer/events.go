package answer

import (
	"encoding/binary"
	"fmt"

	"github.com/tidwall/gjson"
)

// Event is one stream event as the upstream sent it, with where its
// top-level "usage" member is, so it can be served to a client that did not
// ask for usage without parsing it again.
type Event struct {
	// Data is the event's data (a JSON chunk), as sent.
	Data []byte
	// cutFrom and cutTo delimit the "usage" member with one of its
	// separating commas; both zero when there is none.
	cutFrom, cutTo int
	// usageOnly marks the usage chunk: no choices, a usage object.
	usageOnly bool
	// manyUsage marks a chunk with more than one "usage" member (duplicate
	// keys): they are removed by re-writing the object, not by one cut.
	manyUsage bool
}

// NewEvent returns the event for data, which it copies.
func NewEvent(data []byte) Event {
	e := Event{Data: append([]byte(nil), data...)}
	e.locateUsage()
	return e
}

// locateUsage finds the top-level "usage" member of e.Data.
func (e *Event) locateUsage() {
	v := gjson.ParseBytes(e.Data)
	if !v.IsObject() {
		return
	}
	prevEnd := -1 // end of the previous member's value
	found := false
	hasChoices := false
	usageObject := false
	v.ForEach(func(k, val gjson.Result) bool {
		if k.Str == "choices" && val.IsArray() && len(val.Array()) > 0 {
			hasChoices = true
		}
		if found && k.Str == "usage" {
			e.manyUsage = true
		}
		if !found && k.Str == "usage" && k.Index > 0 {
			found = true
			usageObject = val.IsObject()
			end := val.Index + len(val.Raw)
			if prevEnd >= 0 {
				e.cutFrom, e.cutTo = prevEnd, end // ",\"usage\":{...}"
			} else {
				// The first member: cut it and the comma after it.
				e.cutFrom, e.cutTo = k.Index, end
				for i := end; i < len(e.Data); i++ {
					if c := e.Data[i]; c == ',' {
						e.cutTo = i + 1
						for e.cutTo < len(e.Data) && isSpace(e.Data[e.cutTo]) {
							e.cutTo++
						}
						break
					} else if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
						break
					}
				}
			}
		}
		prevEnd = val.Index + len(val.Raw)
		return true
	})
	e.usageOnly = found && usageObject && !hasChoices
}

// AppendSSE appends the event as an SSE "data:" event. Without
// includeUsage a usage-only chunk is left out and the usage member is cut
// from the others.
func (e *Event) AppendSSE(dst []byte, includeUsage bool) []byte {
	if includeUsage || e.cutTo <= e.cutFrom {
		return appendData(dst, e.Data)
	}
	if e.usageOnly {
		return dst
	}
	dst = append(dst, "data: "...)
	if e.manyUsage {
		dst = appendWithoutUsage(dst, e.Data)
	} else {
		dst = append(dst, e.Data[:e.cutFrom]...)
		dst = append(dst, e.Data[e.cutTo:]...)
	}
	return append(dst, "\n\n"...)
}

// appendWithoutUsage re-writes the object data without any top-level
// "usage" member.
func appendWithoutUsage(dst, data []byte) []byte {
	dst = append(dst, '{')
	n := 0
	gjson.ParseBytes(data).ForEach(func(k, v gjson.Result) bool {
		if k.Str == "usage" {
			return true
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, k.Raw...)
		dst = append(dst, ':')
		dst = append(dst, v.Raw...)
		return true
	})
	return append(dst, '}')
}

// AppendData appends data as an SSE "data:" event.
func AppendData(dst, data []byte) []byte { return appendData(dst, data) }

func appendData(dst, data []byte) []byte {
	dst = append(dst, "data: "...)
	dst = append(dst, data...)
	return append(dst, "\n\n"...)
}

// Done is the SSE event that ends an OpenAI stream.
const Done = "data: [DONE]\n\n"

// EncodeEvents returns the stored form of a stream: per event a flags byte,
// the usage span when there is one, and the length-prefixed data.
func EncodeEvents(evs []Event) []byte {
	n := 0
	for i := range evs {
		n += len(evs[i].Data) + 12
	}
	b := make([]byte, 0, n)
	for i := range evs {
		e := &evs[i]
		var flags byte
		if e.cutTo > e.cutFrom {
			flags |= 1
		}
		if e.usageOnly {
			flags |= 2
		}
		if e.manyUsage {
			flags |= 4
		}
		b = append(b, flags)
		if flags&1 != 0 {
			b = binary.AppendUvarint(b, uint64(e.cutFrom))
			b = binary.AppendUvarint(b, uint64(e.cutTo))
		}
		b = binary.AppendUvarint(b, uint64(len(e.Data)))
		b = append(b, e.Data...)
	}
	return b
}

// Events iterates over a stored stream without copying it.
type Events struct {
	b   []byte
	err error
}

// NewEvents returns an iterator over stored events.
func NewEvents(stored []byte) Events { return Events{b: stored} }

// Next returns the next event; ok is false at the end or on corrupt data
// (see Err). The event's Data aliases the stored bytes.
func (it *Events) Next() (e Event, ok bool) {
	if len(it.b) == 0 || it.err != nil {
		return e, false
	}
	flags := it.b[0]
	b := it.b[1:]
	if flags&1 != 0 {
		from, n1 := binary.Uvarint(b)
		if n1 <= 0 {
			return it.corrupt()
		}
		to, n2 := binary.Uvarint(b[n1:])
		if n2 <= 0 {
			return it.corrupt()
		}
		b = b[n1+n2:]
		e.cutFrom, e.cutTo = int(from), int(to)
	}
	size, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < size {
		return it.corrupt()
	}
	e.Data = b[n : n+int(size)]
	if e.cutFrom > e.cutTo || e.cutTo > len(e.Data) {
		return it.corrupt()
	}
	e.usageOnly = flags&2 != 0
	e.manyUsage = flags&4 != 0
	it.b = b[n+int(size):]
	return e, true
}

func (it *Events) corrupt() (Event, bool) {
	it.err = fmt.Errorf("%w: stream events", ErrCorrupt)
	return Event{}, false
}

// Err reports corrupt data met by Next.
func (it *Events) Err() error { return it.err }

// DecodeEvents returns every stored event (their Data alias stored).
func DecodeEvents(stored []byte) ([]Event, error) {
	var out []Event
	it := NewEvents(stored)
	for {
		e, ok := it.Next()
		if !ok {
			return out, it.Err()
		}
		out = append(out, e)
	}
}

// AppendStoredSSE appends a stored stream as SSE events, "[DONE]" last.
func AppendStoredSSE(dst, stored []byte, includeUsage bool) ([]byte, error) {
	it := NewEvents(stored)
	for {
		e, ok := it.Next()
		if !ok {
			break
		}
		dst = e.AppendSSE(dst, includeUsage)
	}
	if err := it.Err(); err != nil {
		return dst, err
	}
	return append(dst, Done...), nil
}

// AssembleStored folds a stored stream into its JSON answer.
func AssembleStored(kind string, stored []byte) ([]byte, error) {
	a := NewAssembler(kind)
	it := NewEvents(stored)
	for {
		e, ok := it.Next()
		if !ok {
			break
		}
		if err := a.Add(e.Data); err != nil {
			return nil, err
		}
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	return a.Result()
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// WithoutUsage returns data without its top-level "usage" member, and
// drop=true when data is the usage-only chunk: what a client that did not
// ask for usage gets. data is returned as is when it has no usage member.
func WithoutUsage(data []byte) (out []byte, drop bool) {
	e := Event{Data: data}
	e.locateUsage()
	if e.cutTo <= e.cutFrom {
		return data, false
	}
	if e.usageOnly {
		return nil, true
	}
	if e.manyUsage {
		return appendWithoutUsage(nil, data), false
	}
	out = make([]byte, 0, len(data)-(e.cutTo-e.cutFrom))
	out = append(out, data[:e.cutFrom]...)
	return append(out, data[e.cutTo:]...), false
}
