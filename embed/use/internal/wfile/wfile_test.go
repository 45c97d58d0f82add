package wfile

import (
	"errors"
	"math"
	"testing"
)

func TestF16RoundTrip(t *testing.T) {
	for h := range 1 << 16 {
		f := F16ToF32(uint16(h))
		if math.IsNaN(float64(f)) {
			if g := F32ToF16(f); g&0x7c00 != 0x7c00 || g&0x3ff == 0 {
				t.Fatalf("%#04x: NaN came back as %#04x", h, g)
			}
			continue
		}
		if g := F32ToF16(f); g != uint16(h) {
			t.Fatalf("%#04x -> %v -> %#04x", h, f, g)
		}
	}
	for _, c := range []struct {
		f float32
		h uint16
	}{{1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {1e6, 0x7c00}, {5.96e-8, 0x0001}, {1e-9, 0}, {1 + 1.0/2048, 0x3c00}, {1 + 3.0/2048, 0x3c02}} {
		if g := F32ToF16(c.f); g != c.h {
			t.Errorf("F32ToF16(%v) = %#04x, want %#04x", c.f, g, c.h)
		}
	}
}

func sample() *File {
	f := &File{Vocab: []Piece{{"<unk>", 0}, {"▁the", -3.5}}, Tensors: map[string]*Tensor{}}
	add := func(name string, dims []int) {
		n := 1
		for _, d := range dims {
			n *= d
		}
		d := make([]float32, n)
		for i := range d {
			d[i] = float32(math.Sin(float64(i)*0.7)) * float32(1+i%5)
		}
		f.Tensors[name] = &Tensor{Name: name, Dims: dims, Data: d}
		f.Order = append(f.Order, name)
	}
	add("bias", []int{7})
	add("w", []int{40, 6})
	return f
}

func TestRoundTrip(t *testing.T) {
	for _, kind := range []int{F32, F16, Int8, Int8Block} {
		f := sample()
		b, err := Encode(f, func(t *Tensor) (int, int) {
			if t.Name == "bias" {
				return F32, 0
			}
			return kind, 1
		})
		if err != nil {
			t.Fatal(err)
		}
		g, err := Decode(b)
		if err != nil {
			t.Fatalf("kind %d: %v", kind, err)
		}
		if len(g.Vocab) != 2 || g.Vocab[1] != f.Vocab[1] {
			t.Fatalf("vocab %v", g.Vocab)
		}
		tol := map[int]float64{F32: 0, F16: 1e-3, Int8: 0.03, Int8Block: 0.03}[kind]
		for _, name := range f.Order {
			a, b := f.Tensors[name], g.Tensors[name]
			for i := range a.Data {
				if d := math.Abs(float64(a.Data[i] - b.Data[i])); d > tol*5 && (name == "w" || d > 0) {
					t.Fatalf("kind %d %s[%d]: %v vs %v", kind, name, i, a.Data[i], b.Data[i])
				}
			}
		}
		// Every flipped byte is caught (by the checksum or the structure).
		for i := 0; i < len(b); i += 13 {
			c := append([]byte(nil), b...)
			c[i] ^= 0x40
			if _, err := Decode(c); !errors.Is(err, ErrFormat) {
				t.Fatalf("kind %d: byte %d flipped: %v", kind, i, err)
			}
		}
		for _, n := range []int{0, 5, len(b) / 2, len(b) - 1} {
			if _, err := Decode(b[:n]); !errors.Is(err, ErrFormat) {
				t.Fatalf("truncated to %d: %v", n, err)
			}
		}
	}
}
