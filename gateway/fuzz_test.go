package gateway

import (
	"testing"

	"github.com/semgate/semgate/providers"
	"github.com/tidwall/gjson"
)

// FuzzDecodeRequest: the decoder never panics, and for any body it accepts
// the model rewrite yields valid JSON naming the new model with every
// other byte unchanged.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`), uint8(0))
	f.Add([]byte(`{"model":"m","prompt":["a","b"],"stream":true,"stream_options":{"include_usage":true}}`), uint8(1))
	f.Add([]byte(`{"model":"m","input":[[1,2],[3]],"encoding_format":"base64"}`), uint8(2))
	f.Add([]byte(`{"x":{"model":"inner"},"model":"m\u00e9","messages":[{"role":"assistant","content":null,"tool_calls":[]}]}`), uint8(0))
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		ep := providers.Endpoint(which%3 + 1)
		req, err := decodeRequest(ep, body)
		if err != nil {
			if _, ok := err.(*apiError); !ok {
				t.Fatalf("decode returned a %T, want *apiError", err)
			}
			return
		}
		out := req.bodyFor("rewritten\"model")
		if !gjson.ValidBytes(out) {
			t.Fatalf("rewrite produced invalid JSON: %s", out)
		}
		if got := gjson.GetBytes(out, "model").Str; got != "rewritten\"model" {
			t.Fatalf("model after rewrite = %q", got)
		}
	})
}
