package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/semgate/semgate/providers/sse"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the translators' output")

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameJSON compares two JSON documents semantically.
func sameJSON(t testing.TB, got, want []byte) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got invalid JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want invalid JSON: %v\n%s", err, want)
	}
	return reflect.DeepEqual(g, w)
}

func indent(b []byte) string {
	var out bytes.Buffer
	if json.Indent(&out, b, "", "  ") != nil {
		return string(b)
	}
	return out.String()
}

// event is one parsed SSE event.
type event struct {
	name string
	data []byte
}

func parseSSE(t testing.TB, b []byte) []event {
	t.Helper()
	r := sse.NewReader(bytes.NewReader(b))
	var evs []event
	for {
		ev, err := r.Next()
		if err == io.EOF {
			return evs
		}
		if err != nil {
			t.Fatalf("parsing SSE: %v\n%s", err, b)
		}
		evs = append(evs, event{string(ev.Name), append([]byte(nil), ev.Data...)})
	}
}

// chunks returns the data of a chat SSE fixture's events.
func chunks(t testing.TB, name string) [][]byte {
	var out [][]byte
	for _, ev := range parseSSE(t, fixture(t, name)) {
		out = append(out, ev.data)
	}
	return out
}

// feeder is what both stream translators offer.
type feeder interface {
	Feed([]byte) ([]byte, error)
	End() []byte
	Done() bool
}

// runStream feeds every chunk, then End if the stream did not finish, and
// returns the output and the first error.
func runStream(s feeder, data [][]byte) ([]byte, error) {
	var out []byte
	var first error
	for _, d := range data {
		b, err := s.Feed(d)
		out = append(out, b...)
		if err != nil && first == nil {
			first = err
		}
	}
	if !s.Done() {
		out = append(out, s.End()...)
	}
	return out, first
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func asError(t testing.TB, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *codec.Error", err, err)
	}
	return e
}

func asAs(err error, target any) bool { return err != nil && errors.As(err, target) }
