package anthropic

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.* from the current output")

// fixedCreated is the "created" stamp tests pin.
const fixedCreated = 1700000000

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkGoldenJSON compares got (compact JSON) with an indented golden file.
func checkGoldenJSON(t *testing.T, golden string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", golden)
	if *update {
		var buf bytes.Buffer
		if err := json.Indent(&buf, got, "", "  "); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, got)
		}
		buf.WriteByte('\n')
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, want); err != nil {
		t.Fatalf("%s: %v", golden, err)
	}
	if !bytes.Equal(compact.Bytes(), got) {
		t.Errorf("output differs from %s\n got: %s\nwant: %s", golden, got, compact.Bytes())
	}
}

// checkGolden compares got with a golden file byte for byte.
func checkGolden(t *testing.T, golden string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", golden)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("output differs from %s\n got:\n%s\nwant:\n%s", golden, got, want)
	}
}

func testTranslator() *translator { return &translator{name: "test", maxTokens: DefaultMaxTokens} }

func TestGoldenRequests(t *testing.T) {
	tr := testTranslator()
	for _, tc := range []struct {
		in, golden string
		chat       bool
	}{
		{"request_chat.json", "request_chat.golden.json", true},
		{"request_completion.json", "request_completion.golden.json", false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			var (
				got *translated
				err error
			)
			if tc.chat {
				got, err = tr.chat(readFixture(t, tc.in))
			} else {
				got, err = tr.completion(readFixture(t, tc.in))
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := marshal(&got.req)
			if err != nil {
				t.Fatal(err)
			}
			checkGoldenJSON(t, tc.golden, b)
		})
	}
}

func TestGoldenResponses(t *testing.T) {
	for _, tc := range []struct {
		in, golden string
		chat       bool
	}{
		{"chat_text.json", "chat_text.golden.json", true},
		{"chat_tool_use.json", "chat_tool_use.golden.json", true},
		{"chat_text.json", "completion_text.golden.json", false},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			f := chatResponse
			if !tc.chat {
				f = completionResponse
			}
			got, err := f("test", 200, readFixture(t, tc.in), "claude-sonnet-4-5", fixedCreated)
			if err != nil {
				t.Fatal(err)
			}
			checkGoldenJSON(t, tc.golden, got)
		})
	}
}

// translateStream runs a recorded stream through the translator, reading
// in reads of size chunk.
func translateStream(t testing.TB, fixture string, mode streamMode, includeUsage bool, chunk int) ([]byte, error) {
	t.Helper()
	s := newStream("test", io.NopCloser(bytes.NewReader(readFixture(t, fixture))), mode, "claude-sonnet-4-5", fixedCreated, includeUsage)
	defer s.Close()
	var out bytes.Buffer
	buf := make([]byte, chunk)
	for {
		n, err := s.Read(buf)
		out.Write(buf[:n])
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return out.Bytes(), err
		}
	}
}

func TestGoldenStreams(t *testing.T) {
	for _, tc := range []struct {
		in, golden   string
		mode         streamMode
		includeUsage bool
	}{
		{"stream_text.sse", "stream_text.golden.sse", modeChat, false},
		{"stream_text.sse", "stream_text_usage.golden.sse", modeChat, true},
		{"stream_tool_use.sse", "stream_tool_use.golden.sse", modeChat, true},
		{"stream_text.sse", "stream_completion.golden.sse", modeCompletion, true},
		{"stream_tool_use.sse", "stream_completion_tool_use.golden.sse", modeCompletion, false},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			got, err := translateStream(t, tc.in, tc.mode, tc.includeUsage, 4096)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.golden, got)
			// Tiny reads must produce the same bytes.
			small, err := translateStream(t, tc.in, tc.mode, tc.includeUsage, 7)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(small, got) {
				t.Errorf("7-byte reads differ from 4096-byte reads")
			}
			if !strings.HasSuffix(string(got), "data: [DONE]\n\n") {
				t.Errorf("stream does not end with [DONE]")
			}
		})
	}
}

func readFixtureErr(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join("testdata", name))
}
