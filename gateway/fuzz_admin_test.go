package gateway

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

// FuzzParseConfig: any YAML is either a configuration that validates or an
// error (a *ConfigError wrapping ErrConfig, or a validation error); never a
// panic.
func FuzzParseConfig(f *testing.F) {
	if b, err := os.ReadFile("../configs/semgate.yaml"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("providers:\n  - {name: mock, type: mock}\nmodels:\n  - {name: m, deployments: [{provider: mock}]}\n"))
	f.Add([]byte("server: {listen: ':x'}\ncache: {threshold: 2, ttl: -1s}\n"))
	f.Add([]byte("providers: [{name: a, type: openai, api_key: ${K:-d}, stream_usage: auto}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseConfig(data, func(k string) (string, bool) { return "v-" + k, k != "" })
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if verr := cfg.Validate(); verr != nil {
			t.Fatalf("ParseConfig accepted a configuration Validate refuses: %v", verr)
		}
	})
}

// FuzzAdminParams: the admin API answers any method, path suffix, query
// and body with a success or a 4xx in OpenAI's error shape: never a 5xx or
// a panic.
func FuzzAdminParams(f *testing.F) {
	cfg, err := ParseConfig([]byte("providers:\n  - {name: mock, type: mock}\nmodels:\n  - {name: m, deployments: [{provider: mock}]}\nlog: {requests: false}\n"), noEnv)
	if err != nil {
		f.Fatal(err)
	}
	cfg.Storage.Dir = f.TempDir()
	srv, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	h := srv.Handler()
	paths := []string{"/admin/cache/stats", "/admin/cache/entries", "/admin/cache/entries/", "/admin/cache",
		"/admin/cache/explain", "/admin/usage", "/admin/keys", "/admin/keys/"}
	methods := []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPatch, http.MethodPut}
	f.Add(uint8(0), uint8(0), "", "period=day", "")
	f.Add(uint8(1), uint8(0), "", "limit=-1&partition=zz&model=%00", "")
	f.Add(uint8(2), uint8(2), "00112233445566778899aabbccddeeff", "", "")
	f.Add(uint8(4), uint8(1), "", "", `{"a":"x","b":"y"}`)
	f.Add(uint8(6), uint8(1), "", "", `{"name":"n","tenant":"t","models":["m"],"budget":{"max_usd":-1}}`)
	f.Add(uint8(7), uint8(3), "key-id", "", `{"name":5}`)
	f.Fuzz(func(t *testing.T, p, m uint8, suffix, query, body string) {
		target := paths[int(p)%len(paths)] + suffix
		if strings.ContainsAny(target, " \t\r\n#?") || !strings.HasPrefix(target, "/") {
			return
		}
		req, err := http.NewRequest(methods[int(m)%len(methods)], "http://127.0.0.1"+target+"?"+query, strings.NewReader(body))
		if err != nil {
			return
		}
		req.RemoteAddr = "127.0.0.1:1234"
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s?%s %q: status %d: %s", req.Method, target, query, body, w.Code, w.Body)
		}
		if w.Code >= 400 {
			var e struct {
				Error *struct{ Message string } `json:"error"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == nil || e.Error.Message == "" {
				t.Fatalf("%s %s: status %d without an OpenAI error: %s", req.Method, target, w.Code, w.Body)
			}
		}
	})
}
