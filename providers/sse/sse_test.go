package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type ev struct{ name, data, id string }

func readAll(t testing.TB, r io.Reader) ([]ev, error) {
	t.Helper()
	sr := NewReader(r)
	var out []ev
	for {
		e, err := sr.Next()
		if err != nil {
			return out, err
		}
		out = append(out, ev{string(e.Name), string(e.Data), string(e.ID)})
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []ev
		err  error
	}{
		{"openai", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []ev{{"", `{"a":1}`, ""}, {"", "[DONE]", ""}}, io.EOF},
		{"named", "event: message_start\ndata: {}\n\n", []ev{{"message_start", "{}", ""}}, io.EOF},
		{"crlf", "data: x\r\n\r\ndata: y\r\n\r\n", []ev{{"", "x", ""}, {"", "y", ""}}, io.EOF},
		{"cr", "data: x\r\rdata: y\r\r", []ev{{"", "x", ""}, {"", "y", ""}}, io.EOF},
		{"multiline", "data: a\ndata: b\n\n", []ev{{"", "a\nb", ""}}, io.EOF},
		{"comments and no space", ": ping\ndata:x\n\n", []ev{{"", "x", ""}}, io.EOF},
		{"id", "id: 7\ndata: x\n\n", []ev{{"", "x", "7"}}, io.EOF},
		{"event without data is skipped", "event: ping\n\ndata: x\n\n", []ev{{"", "x", ""}}, io.EOF},
		{"truncated", "data: {\"a\":1}\n\ndata: {\"b\"", []ev{{"", `{"a":1}`, ""}}, io.ErrUnexpectedEOF},
		{"truncated after line", "data: x\n", nil, io.ErrUnexpectedEOF},
		{"empty", "", nil, io.EOF},
		{"field only", "data\n\n", []ev{{"", "", ""}}, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, r := range []io.Reader{strings.NewReader(tt.in), iotest.OneByteReader(strings.NewReader(tt.in))} {
				got, err := readAll(t, r)
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				if len(got) != len(tt.want) {
					t.Fatalf("got %q, want %q", got, tt.want)
				}
				for i := range got {
					if got[i] != tt.want[i] {
						t.Fatalf("event %d = %q, want %q", i, got[i], tt.want[i])
					}
				}
			}
		})
	}
}

func TestReaderTooLong(t *testing.T) {
	r := NewReader(strings.NewReader("data: " + strings.Repeat("x", 100) + "\n\n"))
	r.SetMaxEventSize(50)
	if _, err := r.Next(); !errors.Is(err, ErrTooLong) {
		t.Fatalf("err = %v, want ErrTooLong", err)
	}
}

func TestReaderPropagatesReadError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("data: x\n\n"), iotest.ErrReader(boom)))
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}

func TestAppendEventRoundTrip(t *testing.T) {
	for _, data := range []string{"", "x", "a\nb", "a\r\nb", "line\r", "{\"k\":\"v\"}"} {
		wire := AppendEvent(nil, []byte("n"), []byte(data))
		got, err := readAll(t, bytes.NewReader(wire))
		if err != io.EOF || len(got) != 1 {
			t.Fatalf("%q: got %q, %v", data, got, err)
		}
		want := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(data)
		if got[0].data != want || got[0].name != "n" {
			t.Fatalf("%q: round trip gave %q", data, got[0])
		}
	}
}

// FuzzReader checks the parser never panics, never loops, and that every
// event it returns survives a write/read round trip.
func FuzzReader(f *testing.F) {
	f.Add([]byte("data: {\"a\":1}\n\ndata: [DONE]\n\n"))
	f.Add([]byte("event: x\r\ndata: a\r\ndata: b\r\n\r\n:c\n"))
	f.Add([]byte("data\rid: 1\r\r"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in))
		r.SetMaxEventSize(1 << 16)
		for i := 0; ; i++ {
			if i > len(in)+1 {
				t.Fatal("more events than input bytes")
			}
			e, err := r.Next()
			if err != nil {
				return
			}
			wire := AppendEvent(nil, e.Name, e.Data)
			back, err := NewReader(bytes.NewReader(wire)).Next()
			if err != nil || !bytes.Equal(back.Data, e.Data) || !bytes.Equal(back.Name, e.Name) {
				t.Fatalf("round trip of %q/%q gave %q/%q, %v", e.Name, e.Data, back.Name, back.Data, err)
			}
		}
	})
}
