package semcache

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestCanonicalJSONExamples(t *testing.T) {
	cases := map[string]string{
		`{"b":1,"a":2}`:                                          `{"a":2,"b":1}`,
		" { \"a\" : [ 1 , 2 ] ,\n\t\"b\":{} } ":                  `{"a":[1,2],"b":{}}`,
		`[1, 1.0, 1e0, 10e-1, 0.1e1, 1E+0]`:                      `[1,1,1,1,1,1]`,
		`[0.7, 0.70, 7e-1, 70e-2]`:                               `[0.7,0.7,0.7,0.7]`,
		`[-0, 0.0, -0e5, 0e-5]`:                                  `[0,0,0,0]`,
		`[100, 1e2, 1e21, 1e20, 123456789012345678901234567890]`: `[100,100,1e21,100000000000000000000,1.2345678901234567890123456789e29]`,
		`[1e-7, 0.000001, 0.0000012, -2.50]`:                     `[1e-7,0.000001,0.0000012,-2.5]`,
		`"\u0041\/\u00e9\ud83d\ude00"`:                           `"A/é😀"`,
		`"a\"b\\c\n\t\u0001\u001f"`:                              `"a\"b\\c\n\t\u0001\u001f"`,
		`"\u2028 <>&"`:                                           "\"\u2028 <>&\"",
		`{"é":1,"e":2,"z":3,"E":4}`:                              `{"E":4,"e":2,"z":3,"é":1}`,
		`[true,false,null]`:                                      `[true,false,null]`,
	}
	for in, want := range cases {
		got, err := CanonicalJSON([]byte(in))
		if err != nil {
			t.Errorf("CanonicalJSON(%s): %v", in, err)
			continue
		}
		if string(got) != want {
			t.Errorf("CanonicalJSON(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestCanonicalJSONKeepsBigNumbersExact(t *testing.T) {
	// float64 would merge these; the canonical form must not.
	a, _ := CanonicalJSON([]byte(`12345678901234567890`))
	b, _ := CanonicalJSON([]byte(`12345678901234567891`))
	if bytes.Equal(a, b) {
		t.Fatalf("distinct integers canonicalize alike: %s", a)
	}
	c, _ := CanonicalJSON([]byte(`0.30000000000000004`))
	d, _ := CanonicalJSON([]byte(`0.3`))
	if bytes.Equal(c, d) {
		t.Fatalf("distinct decimals canonicalize alike: %s", c)
	}
}

func TestCanonicalJSONRefuses(t *testing.T) {
	for _, in := range []string{
		``, `{`, `{"a":1,}`, `[1,]`, `{"a":1,"a":2}`, `{"a":1} x`, `01`, `1.`, `.5`, `1e`, `+1`,
		`"\ud800"`, `"\udc00x"`, `"\ud800\u0041"`, "\"a\xffb\"", "\"\x01\"", `"\x"`, `"\u12"`,
		`tru`, `nul`, `1e99999999`, strings.Repeat("[", 600) + strings.Repeat("]", 600),
	} {
		if out, err := CanonicalJSON([]byte(in)); !errors.Is(err, ErrInvalidJSON) {
			t.Errorf("CanonicalJSON(%q) = %s, %v; want ErrInvalidJSON", in, out, err)
		}
	}
}

// cjRandValue builds a random JSON value as Go data.
func cjRandValue(r *rand.Rand, depth int) any {
	k := r.IntN(8)
	if depth > 3 {
		k = r.IntN(5)
	}
	switch k {
	case 0:
		return nil
	case 1:
		return r.IntN(2) == 0
	case 2:
		return json.Number(strconv.Itoa(r.IntN(2000) - 1000))
	case 3:
		return json.Number(strconv.FormatFloat(float64(r.IntN(100000))/1000, 'f', -1, 64))
	case 4:
		const alphabet = "ab\"\\\n\t\x01é😀 /<"
		rs := []rune(alphabet)
		var sb strings.Builder
		for range r.IntN(6) {
			sb.WriteRune(rs[r.IntN(len(rs))])
		}
		return sb.String()
	case 5, 6:
		m := map[string]any{}
		for range r.IntN(5) {
			m[string(rune('a'+r.IntN(6)))+strconv.Itoa(r.IntN(3))] = cjRandValue(r, depth+1)
		}
		return m
	default:
		var a []any
		for range r.IntN(4) {
			a = append(a, cjRandValue(r, depth+1))
		}
		return a
	}
}

// cjWriteVariant writes v as JSON with random member order, white space,
// number spellings and string escapes: a document semantically equal to v.
func cjWriteVariant(r *rand.Rand, b *strings.Builder, v any) {
	ws := func() {
		for range r.IntN(3) {
			b.WriteByte(" \t\n\r"[r.IntN(4)])
		}
	}
	ws()
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case json.Number:
		s := string(v)
		switch r.IntN(4) {
		case 0:
			if !strings.Contains(s, ".") {
				s += ".0"
			} else {
				s += "00"
			}
		case 1:
			s += "e0"
		case 2:
			// Shift the point: x = (x*10)e-1.
			f, _ := strconv.ParseFloat(s, 64)
			if f == float64(int64(f)) {
				s = strconv.FormatInt(int64(f)*10, 10) + "E-1"
			}
		}
		b.WriteString(s)
	case string:
		b.WriteByte('"')
		for _, c := range v {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteRune(c)
			case c < 0x20 || r.IntN(4) == 0:
				if c > 0xFFFF {
					b.WriteString(`\ud83d\ude00`)
				} else {
					fmt.Fprintf(b, `\u%04X`, c)
				}
			case c == '/' && r.IntN(2) == 0:
				b.WriteString(`\/`)
			default:
				b.WriteRune(c)
			}
		}
		b.WriteByte('"')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			cjWriteVariant(r, b, k)
			ws()
			b.WriteByte(':')
			cjWriteVariant(r, b, v[k])
		}
		ws()
		b.WriteByte('}')
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			cjWriteVariant(r, b, e)
		}
		ws()
		b.WriteByte(']')
	}
	ws()
}

func TestCanonicalJSONSemanticallyEqualIsByteEqual(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		v := cjRandValue(r, 0)
		var b1, b2 strings.Builder
		cjWriteVariant(r, &b1, v)
		cjWriteVariant(r, &b2, v)
		c1, err1 := CanonicalJSON([]byte(b1.String()))
		c2, err2 := CanonicalJSON([]byte(b2.String()))
		if err1 != nil || err2 != nil {
			t.Fatalf("case %d: %v / %v\n%s\n%s", i, err1, err2, b1.String(), b2.String())
		}
		if !bytes.Equal(c1, c2) {
			t.Fatalf("case %d: equal documents differ:\n%s\n%s\n->\n%s\n%s", i, b1.String(), b2.String(), c1, c2)
		}
		// The canonical form means the same as the input.
		var x, y any
		if err := json.Unmarshal([]byte(b1.String()), &x); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(c1, &y); err != nil {
			t.Fatalf("canonical form is not JSON: %s: %v", c1, err)
		}
		if !reflect.DeepEqual(x, y) {
			t.Fatalf("case %d: meaning changed:\n%s\n%s", i, b1.String(), c1)
		}
	}
}

func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range []string{
		`{"b":1,"a":[1.0,2e3,"x\u00e9"]}`, `[0.70, -0, 1E+2]`, `"\ud83d\ude00\/"`, `{"a":{"b":{"c":null}}}`,
		`123456789012345678901234567890.000`, `[true,false]`, `{"a":1,"a":2}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := CanonicalJSON(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		if !json.Valid(c) {
			t.Fatalf("canonical form %q of %q is not JSON", c, data)
		}
		c2, err := CanonicalJSON(c)
		if err != nil {
			t.Fatalf("canonical form %q refused: %v", c, err)
		}
		if !bytes.Equal(c, c2) {
			t.Fatalf("not idempotent: %q -> %q -> %q", data, c, c2)
		}
	})
}

func BenchmarkCanonicalJSON(b *testing.B) {
	body := []byte(keyBenchBody)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	var dst []byte
	for b.Loop() {
		var err error
		dst, err = AppendCanonicalJSON(dst[:0], body)
		if err != nil {
			b.Fatal(err)
		}
	}
}
