package answer

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// fixture is a recorded-style answer in both forms (see testdata/README.md).
type fixture struct {
	name   string
	kind   string
	json   []byte
	events [][]byte // the stream's data, without "[DONE]"
	raw    []byte   // the .sse file
}

func loadFixtures(t *testing.T) []fixture {
	t.Helper()
	paths, err := filepath.Glob("testdata/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var out []fixture
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".json")
		js, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(strings.TrimSuffix(p, ".json") + ".sse")
		if err != nil {
			t.Fatal(err)
		}
		f := fixture{name: name, kind: KindChat, json: js, raw: raw}
		if strings.HasPrefix(name, "completions") {
			f.kind = KindCompletions
		}
		for _, line := range strings.Split(string(raw), "\n") {
			if d, ok := strings.CutPrefix(line, "data: "); ok && d != "[DONE]" {
				f.events = append(f.events, []byte(d))
			}
		}
		out = append(out, f)
	}
	return out
}

// lossyFixtures cannot be converted between forms without changing a field.
var lossyFixtures = map[string]bool{"chat_audio": true}

// TestFixturesStreamToStream: a stored stream is served back event for
// event, byte for byte.
func TestFixturesStreamToStream(t *testing.T) {
	for _, f := range loadFixtures(t) {
		var evs []Event
		for _, e := range f.events {
			evs = append(evs, NewEvent(e))
		}
		got, err := AppendStoredSSE(nil, EncodeEvents(evs), true)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		for _, e := range f.events {
			want.WriteString("data: ")
			want.Write(e)
			want.WriteString("\n\n")
		}
		want.WriteString(Done)
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%s: the stored stream is not replayed as sent", f.name)
		}
	}
}

// TestFixturesStreamToJSON: a stream served as JSON carries every field of
// the upstream's own JSON answer, and nothing the stream did not carry.
func TestFixturesStreamToJSON(t *testing.T) {
	for _, f := range loadFixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			got, err := Assemble(f.kind, f.events)
			if lossyFixtures[f.name] {
				if !errors.Is(err, ErrLossy) {
					t.Fatalf("converted a stream that cannot be (err %v): %s", err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			compareFields(t, "", decode(t, f.json), decode(t, got))
			// And the assembled answer streams back into the same events'
			// content: assembling its own stream gives it again.
			if err := CheckSplit(f.kind, got); err != nil {
				t.Fatalf("assembled answer does not stream back: %v", err)
			}
		})
	}
}

// TestFixturesJSONToStream: a JSON answer served as a stream assembles
// into exactly the JSON answer, and its events hold what the upstream's own
// stream holds.
func TestFixturesJSONToStream(t *testing.T) {
	for _, f := range loadFixtures(t) {
		t.Run(f.name, func(t *testing.T) {
			err := CheckSplit(f.kind, f.json)
			if lossyFixtures[f.name] {
				if !errors.Is(err, ErrLossy) {
					t.Fatalf("converted an answer that cannot be (err %v)", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sse, err := AppendStreamSSE(nil, f.kind, f.json, true)
			if err != nil {
				t.Fatal(err)
			}
			var chunks [][]byte
			for _, line := range strings.Split(string(sse), "\n") {
				if d, ok := strings.CutPrefix(line, "data: "); ok && d != "[DONE]" {
					if !json.Valid([]byte(d)) {
						t.Fatalf("invalid event %s", d)
					}
					chunks = append(chunks, []byte(d))
				}
			}
			if !strings.HasSuffix(string(sse), Done) {
				t.Fatal("no [DONE]")
			}
			ours, err := Assemble(f.kind, chunks)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := Assemble(f.kind, f.events)
			if err != nil {
				t.Fatal(err)
			}
			// The upstream's own stream and ours carry the same fields.
			compareFields(t, "", decode(t, ours), decode(t, theirs))
			// Without usage: no usage anywhere.
			noUsage, _ := AppendStreamSSE(nil, f.kind, f.json, false)
			if bytes.Contains(noUsage, []byte(`"usage"`)) {
				t.Fatal("usage sent to a client that did not ask for it")
			}
		})
	}
}

func decode(t *testing.T, b []byte) any {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return v
}

// compareFields checks, field by field, that every member of want with a
// value (not null, not an empty array or object: servers send those in
// one form only) is in got with the same value, and that got holds nothing
// want lacks except such empty values.
func compareFields(t *testing.T, path string, want, got any) {
	t.Helper()
	wm, ok1 := want.(map[string]any)
	gm, ok2 := got.(map[string]any)
	if ok1 && ok2 {
		for k, wv := range wm {
			gv, ok := gm[k]
			if !ok {
				if !empty(wv) {
					t.Errorf("%s%s: missing (want %v)", path, k, wv)
				}
				continue
			}
			compareFields(t, path+k+".", wv, gv)
		}
		for k, gv := range gm {
			if _, ok := wm[k]; !ok && !empty(gv) {
				t.Errorf("%s%s: %v not in the original", path, k, gv)
			}
		}
		return
	}
	wa, ok1 := want.([]any)
	ga, ok2 := got.([]any)
	if ok1 && ok2 && len(wa) == len(ga) {
		for i := range wa {
			compareFields(t, path+"["+string(rune('0'+i%10))+"].", wa[i], ga[i])
		}
		return
	}
	if !reflect.DeepEqual(want, got) && !(empty(want) && empty(got)) {
		t.Errorf("%s: got %v, want %v", strings.TrimSuffix(path, "."), got, want)
	}
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}
