package embed_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/semgate/semgate/embed"
)

// fakeRequest is what the fake server saw of one request.
type fakeRequest struct {
	Path          string
	Auth          string
	Model         string
	Inputs        []string
	Format        string
	Dimensions    int
	HasDimensions bool
}

// fakeServer is a deterministic OpenAI-compatible embeddings endpoint: the
// vector of a text is its lexical vector (of the requested dimensions, 384
// by default) scaled by 2.5, so the client must normalize; the data comes
// back in reverse order with explicit indexes.
type fakeServer struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []fakeRequest
	// respond, when set, replaces the normal answer.
	respond func(w http.ResponseWriter, r *http.Request, req fakeRequest)
}

const fakeNativeDim = 384

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeServer) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.reqs...)
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	var body map[string]json.RawMessage
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, `{"error":{"message":"bad json"}}`, http.StatusBadRequest)
		return
	}
	req := fakeRequest{Path: r.URL.Path, Auth: r.Header.Get("Authorization")}
	_ = json.Unmarshal(body["model"], &req.Model)
	_ = json.Unmarshal(body["input"], &req.Inputs)
	_ = json.Unmarshal(body["encoding_format"], &req.Format)
	if d, ok := body["dimensions"]; ok {
		req.HasDimensions = true
		_ = json.Unmarshal(d, &req.Dimensions)
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	respond := f.respond
	f.mu.Unlock()
	if respond != nil {
		respond(w, r, req)
		return
	}
	vecs, err := fakeVectors(req)
	if err != nil {
		http.Error(w, fmt.Sprintf(`{"error":{"message":%q}}`, err), http.StatusBadRequest)
		return
	}
	writeData(w, vecs, true)
}

// fakeVectors computes the fake server's unnormalized vectors.
func fakeVectors(req fakeRequest) ([][]float32, error) {
	dim := fakeNativeDim
	if req.HasDimensions {
		dim = req.Dimensions
	}
	l, err := embed.NewLexical(dim, embed.LexicalOptions{})
	if err != nil {
		return nil, err
	}
	vecs, err := l.Embed(context.Background(), req.Inputs)
	if err != nil {
		return nil, err
	}
	for _, v := range vecs {
		for i := range v {
			v[i] *= 2.5
		}
	}
	return vecs, nil
}

// writeData answers with vecs in an OpenAI embeddings response, in reverse
// order with indexes when reverse is set.
func writeData(w http.ResponseWriter, vecs [][]float32, reverse bool) {
	type item struct {
		Object    string    `json:"object"`
		Index     int       `json:"index"`
		Embedding []float32 `json:"embedding"`
	}
	data := make([]item, len(vecs))
	for i, v := range vecs {
		j := i
		if reverse {
			j = len(vecs) - 1 - i
		}
		data[j] = item{"embedding", i, v}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"object": "list", "data": data, "model": "fake",
		"usage": map[string]int{"prompt_tokens": 1, "total_tokens": 1},
	})
}

// newOpenAI returns an embedder for f that the test closes.
func newOpenAI(t *testing.T, f *fakeServer, dims int, o embed.OpenAIOptions) *embed.OpenAI {
	t.Helper()
	if o.BaseURL == "" {
		o.BaseURL = f.URL + "/v1"
	}
	if o.Model == "" {
		o.Model = "fake-embed"
	}
	e, err := embed.NewOpenAI(dims, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	return e
}
