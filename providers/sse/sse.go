// Package sse reads and writes Server-Sent Events as used by OpenAI- and
// Anthropic-style streaming APIs (the WHATWG event-stream format: "data",
// "event", "id" and "retry" fields, comments, LF, CRLF or CR line ends).
//
// The Reader is allocation-light: an Event's slices point into the
// Reader's buffers and stay valid only until the next call to Next.
package sse

import (
	"bytes"
	"errors"
	"io"
)

// Errors returned by Reader.Next.
var (
	// ErrTooLong: an event exceeded Reader's maximum size.
	ErrTooLong = errors.New("sse: event too long")
)

// DefaultMaxEventSize bounds one event (all its lines) unless a Reader is
// given another limit: 8 MiB.
const DefaultMaxEventSize = 8 << 20

// Event is one dispatched server-sent event.
type Event struct {
	// Name is the "event" field, empty for the default "message" type.
	Name []byte
	// Data is the concatenation of the event's "data" lines joined by "\n".
	Data []byte
	// ID is the last "id" field seen, empty if none.
	ID []byte
}

// Reader parses an event stream.
type Reader struct {
	r       io.Reader
	buf     []byte // unread input is buf[start:end]
	start   int
	end     int
	err     error // sticky read error
	name    []byte
	data    []byte
	id      []byte
	hasData bool
	max     int
}

// NewReader returns a Reader on r with DefaultMaxEventSize.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r, buf: make([]byte, 4096), max: DefaultMaxEventSize}
}

// SetMaxEventSize changes the limit on one event's size in bytes.
func (r *Reader) SetMaxEventSize(n int) { r.max = n }

// Next returns the next event. It returns io.EOF when the stream ends
// cleanly between events, and io.ErrUnexpectedEOF when it ends inside an
// event (a truncated stream). Events with no data lines are skipped, as the
// specification says; comments are ignored.
func (r *Reader) Next() (Event, error) {
	r.name = r.name[:0]
	r.data = r.data[:0]
	r.hasData = false
	pending := false // saw any field of the current event
	size := 0
	for {
		line, err := r.line()
		if err != nil {
			if err == io.EOF && (pending || r.hasData) {
				return Event{}, io.ErrUnexpectedEOF
			}
			return Event{}, err
		}
		size += len(line)
		if size > r.max {
			return Event{}, ErrTooLong
		}
		if len(line) == 0 {
			if r.hasData {
				data := r.data
				if len(data) > 0 && data[len(data)-1] == '\n' {
					data = data[:len(data)-1]
				}
				return Event{Name: r.name, Data: data, ID: r.id}, nil
			}
			r.name = r.name[:0]
			pending = false
			continue
		}
		if line[0] == ':' {
			continue
		}
		pending = true
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			if len(value) > 0 && value[0] == ' ' {
				value = value[1:]
			}
		}
		switch string(field) {
		case "data":
			r.data = append(r.data, value...)
			r.data = append(r.data, '\n')
			r.hasData = true
		case "event":
			r.name = append(r.name[:0], value...)
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				r.id = append(r.id[:0], value...)
			}
		}
	}
}

// line returns the next line without its terminator. The slice is valid
// until the next call.
func (r *Reader) line() ([]byte, error) {
	for {
		window := r.buf[r.start:r.end]
		if i := bytes.IndexAny(window, "\r\n"); i >= 0 {
			if window[i] == '\r' && i+1 == len(window) && r.err == nil {
				// A CR at the end of the buffer may be the first half of CRLF.
				if err := r.fill(); err != nil && err != io.EOF {
					return nil, err
				}
				continue
			}
			line := window[:i]
			adv := i + 1
			if window[i] == '\r' && i+1 < len(window) && window[i+1] == '\n' {
				adv++
			}
			r.start += adv
			return line, nil
		}
		if r.err != nil {
			if r.end > r.start && r.err == io.EOF {
				// A final line without terminator never completes an event.
				r.start = r.end
				return nil, io.ErrUnexpectedEOF
			}
			return nil, r.err
		}
		if r.end-r.start > r.max {
			return nil, ErrTooLong
		}
		if err := r.fill(); err != nil && err != io.EOF {
			return nil, err
		}
	}
}

// fill reads more input, compacting or growing the buffer as needed. Read
// errors become sticky in r.err and are also returned.
func (r *Reader) fill() error {
	if r.err != nil {
		return r.err
	}
	if r.start > 0 {
		n := copy(r.buf, r.buf[r.start:r.end])
		r.start, r.end = 0, n
	}
	if r.end == len(r.buf) {
		nb := make([]byte, 2*len(r.buf))
		copy(nb, r.buf[:r.end])
		r.buf = nb
	}
	n, err := r.r.Read(r.buf[r.end:])
	r.end += n
	if err != nil {
		r.err = err
	}
	if n == 0 && err == nil {
		return nil
	}
	return err
}

// Done is the data of the final event of an OpenAI stream.
var Done = []byte("[DONE]")

// AppendEvent appends one event with the given data (and name, if not
// empty) in wire form to dst. Data containing line breaks is split into
// several data lines, so any payload round-trips.
func AppendEvent(dst []byte, name, data []byte) []byte {
	if len(name) > 0 {
		dst = append(dst, "event: "...)
		dst = append(dst, name...)
		dst = append(dst, '\n')
	}
	for {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			break
		}
		dst = append(dst, "data: "...)
		dst = append(dst, data[:i]...)
		dst = append(dst, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	dst = append(dst, "data: "...)
	dst = append(dst, data...)
	return append(dst, '\n', '\n')
}
