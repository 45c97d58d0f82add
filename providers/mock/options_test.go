package mock

import (
	"errors"
	"flag"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	if err := (&Options{}).Validate(); err != nil {
		t.Fatalf("zero Options: %v", err)
	}
	bad := Options{
		TTFT:            -1,
		InterTokenDelay: -1,
		MinTokens:       10,
		MaxTokens:       5,
		Dimensions:      -1,
		FaultRate:       math.NaN(),
		Faults:          []string{"500", "boom", "399"},
		RetryAfter:      -1,
		Models:          []string{""},
	}
	err := bad.Validate()
	for _, want := range []string{"ttft", "inter_token_delay", "min_tokens", "dimensions", "fault_rate", "faults[1]", "faults[2]", "retry_after", "models[0]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want a problem with %s", err, want)
		}
	}
	if _, err := New("x", bad); !errors.Is(err, ErrOptions) {
		t.Fatalf("New: %v", err)
	}
	if _, err := NewHandler(bad); !errors.Is(err, ErrOptions) {
		t.Fatalf("NewHandler: %v", err)
	}
	if err := (&Options{FaultRate: 1.5}).Validate(); err == nil {
		t.Fatal("fault rate 1.5 accepted")
	}
}

func TestDefaults(t *testing.T) {
	c, err := newCore(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if c.minTok != 16 || c.maxTok != 64 || c.dims != 256 || c.seed != 1 || c.retryAfter != 1 ||
		!slices.Equal(c.kinds, []fault{500}) || !slices.Equal(c.models, []string{"mock"}) {
		t.Fatalf("defaults: %+v", c)
	}
	if c, _ := newCore(Options{MinTokens: 100}); c.maxTok != 100 {
		t.Fatalf("min 100: max %d", c.maxTok)
	}
	if c, _ := newCore(Options{MaxTokens: 5}); c.minTok != 5 {
		t.Fatalf("max 5: min %d", c.minTok)
	}
}

func TestRegisterFlags(t *testing.T) {
	o := Options{Dimensions: 8}
	fs := flag.NewFlagSet("mock", flag.ContinueOnError)
	o.RegisterFlags(fs)
	err := fs.Parse([]string{
		"--ttft", "150ms", "--inter-token-delay", "20ms", "--min-tokens", "3", "--max-tokens", "9",
		"--fault-rate", "0.1", "--faults", "429, 500,reset", "--seed", "7", "--retry-after", "2", "--models", "a,b",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := Options{
		TTFT: 150 * time.Millisecond, InterTokenDelay: 20 * time.Millisecond, MinTokens: 3, MaxTokens: 9,
		Dimensions: 8, FaultRate: 0.1, Faults: []string{"429", "500", "reset"}, Seed: 7, RetryAfter: 2, Models: []string{"a", "b"},
	}
	if o.TTFT != want.TTFT || o.InterTokenDelay != want.InterTokenDelay || o.MinTokens != 3 || o.MaxTokens != 9 ||
		o.Dimensions != 8 || o.FaultRate != 0.1 || !slices.Equal(o.Faults, want.Faults) || o.Seed != 7 ||
		o.RetryAfter != 2 || !slices.Equal(o.Models, want.Models) {
		t.Fatalf("got %+v, want %+v", o, want)
	}
	if err := o.Validate(); err != nil {
		t.Fatal(err)
	}
	if f := fs.Lookup("dimensions"); f.DefValue != "8" {
		t.Fatalf("dimensions default %q: want the current value", f.DefValue)
	}
}
