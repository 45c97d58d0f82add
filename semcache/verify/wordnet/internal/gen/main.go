// Command gen builds wordnet.dat, the compact WordNet 3.0 lexicon embedded
// by package wordnet, from the WordNet database files (Debian's
// wordnet-base, /usr/share/wordnet), and copies the WordNet licence to
// LICENSE.wordnet. It is run by go generate in the package directory.
//
// The data file is a gzip stream of the payload built by [Build]; see
// there for its layout.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

const (
	defaultDir    = "/usr/share/wordnet"
	copyrightFile = "/usr/share/doc/wordnet-base/copyright"
	magic         = "wordnet3.0 v1\n"
)

// The parts of speech, in the order of package wordnet's POS constants.
var posNames = [4]string{"noun", "verb", "adj", "adv"}

func main() {
	log.SetFlags(0)
	log.SetPrefix("wordnet/gen: ")
	dir := flag.String("wordnet", defaultDir, "directory with the WordNet 3.0 database files")
	out := flag.String("out", ".", "directory to write wordnet.dat and LICENSE.wordnet to")
	flag.Parse()

	if err := ensureInstalled(*dir); err != nil {
		log.Fatal(err)
	}
	raw, err := Build(*dir)
	if err != nil {
		log.Fatal(err)
	}
	dat, err := Compress(raw)
	if err != nil {
		log.Fatal(err)
	}
	lic, err := License(copyrightFile)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*out, "wordnet.dat"), dat, 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*out, "LICENSE.wordnet"), lic, 0o644); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote wordnet.dat (%d bytes, %d uncompressed) and LICENSE.wordnet", len(dat), len(raw))
}

// ensureInstalled installs Debian's wordnet-base if dir is the default and
// missing.
func ensureInstalled(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "index.noun")); err == nil || dir != defaultDir {
		return nil
	}
	args := []string{"apt-get", "install", "-y", "wordnet-base"}
	if os.Geteuid() != 0 {
		args = append([]string{"sudo"}, args...)
	}
	log.Printf("%s is missing; running %s", dir, strings.Join(args, " "))
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("installing wordnet-base (try apt-get update first): %w", err)
	}
	return nil
}

// Compress gzips the payload deterministically (no name, no time stamp).
func Compress(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return buf.Bytes(), nil
}

// License returns the WordNet 3.0 licence from a Debian copyright file:
// the text of its "License: WordNet3.0" paragraph.
func License(copyright string) ([]byte, error) {
	b, err := os.ReadFile(copyright)
	if err != nil {
		return nil, fmt.Errorf("licence: %w", err)
	}
	var out bytes.Buffer
	in := false
	for line := range strings.Lines(string(b)) {
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "License: WordNet"):
			in = true
		case in && strings.HasPrefix(line, " "):
			if line = strings.TrimPrefix(line, " "); line == "." {
				line = ""
			}
			out.WriteString(line + "\n")
		case in:
			in = false
		}
	}
	if out.Len() == 0 {
		return nil, fmt.Errorf("licence: no WordNet licence paragraph in %s", copyright)
	}
	return out.Bytes(), nil
}

// synset is one line of a data.pos file.
type synset struct {
	sat   bool     // adjective satellite (ss_type s)
	words []string // lowercased lemmas, in word-number order
	ptrs  []rawPtr // antonym and similar-to pointers
}

type rawPtr struct {
	sym      string // "!" or "&"
	pos      int
	offset   uint32
	src, dst int // word numbers, 0 for a semantic pointer
}

// entry is one line of an index.pos file.
type entry struct {
	pos    int
	senses []uint32 // synset offsets, in sense order
	freq   uint64
}

// wordnet is everything read from the database files.
type wordnet struct {
	entries map[string][]entry // lemma -> entries, in POS order
	synsets [4][]synset        // per POS, in offset order
	ids     [4]map[uint32]uint32
	exc     [4]map[string][]string // inflected form -> base forms
}

// Build reads the WordNet database in dir and returns the payload of
// wordnet.dat. All integers are unsigned varints (zigzag where noted);
// synset ids are dense, global and ordered by (POS, offset); string ids
// index the sorted string table.
//
//	magic "wordnet3.0 v1\n"
//	n, then n strings: the lemmas and the inflected forms of the
//	  exception lists, sorted bytewise and front coded: a byte with the
//	  length of the prefix shared with the previous string, the rest of
//	  the string, '\n'
//	n bytes: POS mask of each string (bit p: lemma of POS p)
//	4 synset counts, one per POS
//	for each (string, POS) entry, in string then POS order: sense count
//	for each entry: tag count (frequency), at most 65535
//	for each entry: its synsets in sense order, as ids local to the POS
//	satellites: count, then adjective-local ids, delta coded
//	for each adjective synset: count of similar-to targets, then each
//	  target as zigzag(target - source)
//	antonyms: count, then (source id delta, source lemma string id,
//	  zigzag(target id - source id), target lemma string id), sorted
//	exceptions: count, then (form string id delta, POS, base string id),
//	  sorted by form, POS, then file order; only bases that are lemmas
//	  of that POS
func Build(dir string) ([]byte, error) {
	wn := &wordnet{entries: make(map[string][]entry)}
	for p := range 4 {
		if err := wn.readData(dir, p); err != nil {
			return nil, err
		}
	}
	for p := range 4 {
		if err := wn.readIndex(dir, p); err != nil {
			return nil, err
		}
		if err := wn.readExc(dir, p); err != nil {
			return nil, err
		}
	}
	if err := wn.readCounts(dir); err != nil {
		return nil, err
	}
	return wn.encode()
}

// readLines calls fn with the whitespace-separated fields of each line of
// a database file but its licence header.
func readLines(dir, name string, fn func(f []string) error) error {
	file, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w (install Debian's wordnet-base)", err)
		}
		return err
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "  ") || line == "" {
			continue // licence header
		}
		if err := fn(strings.Fields(line)); err != nil {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// lemma turns a WordNet word into the package's form: lowercase, spaces
// for underscores, no adjective marker such as "(p)".
func lemma(w string) string {
	if i := strings.IndexByte(w, '('); i > 0 && strings.HasSuffix(w, ")") {
		w = w[:i]
	}
	return strings.ToLower(strings.ReplaceAll(w, "_", " "))
}

func posOf(c string) (int, error) {
	switch c {
	case "n":
		return 0, nil
	case "v":
		return 1, nil
	case "a", "s":
		return 2, nil
	case "r":
		return 3, nil
	}
	return 0, fmt.Errorf("bad part of speech %q", c)
}

func parseUint(s string, base int) (uint32, error) {
	v, err := strconv.ParseUint(s, base, 32)
	return uint32(v), err
}

func (wn *wordnet) readData(dir string, p int) error {
	wn.ids[p] = make(map[uint32]uint32)
	return readLines(dir, "data."+posNames[p], func(f []string) error {
		if len(f) < 4 {
			return errors.New("short line")
		}
		off, err := parseUint(f[0], 10)
		if err != nil {
			return err
		}
		nw, err := parseUint(f[3], 16)
		if err != nil {
			return err
		}
		i := 4 + 2*int(nw)
		if len(f) <= i {
			return errors.New("short line")
		}
		s := synset{sat: f[2] == "s"}
		for k := range int(nw) {
			s.words = append(s.words, lemma(f[4+2*k]))
		}
		np, err := parseUint(f[i], 10)
		if err != nil {
			return err
		}
		i++
		if len(f) < i+4*int(np) {
			return errors.New("short pointer list")
		}
		for k := range int(np) {
			q := f[i+4*k : i+4*k+4]
			if q[0] != "!" && q[0] != "&" {
				continue
			}
			var r rawPtr
			r.sym = q[0]
			if r.offset, err = parseUint(q[1], 10); err != nil {
				return err
			}
			if r.pos, err = posOf(q[2]); err != nil {
				return err
			}
			st, err := parseUint(q[3], 16)
			if err != nil || len(q[3]) != 4 {
				return fmt.Errorf("bad source/target %q", q[3])
			}
			r.src, r.dst = int(st>>8), int(st&0xff)
			s.ptrs = append(s.ptrs, r)
		}
		wn.ids[p][off] = uint32(len(wn.synsets[p]))
		wn.synsets[p] = append(wn.synsets[p], s)
		return nil
	})
}

func (wn *wordnet) readIndex(dir string, p int) error {
	return readLines(dir, "index."+posNames[p], func(f []string) error {
		if len(f) < 4 {
			return errors.New("short line")
		}
		nsyn, err := strconv.Atoi(f[2])
		if err != nil {
			return err
		}
		nptr, err := strconv.Atoi(f[3])
		if err != nil {
			return err
		}
		offs := f[4+nptr+2:]
		if len(offs) != nsyn {
			return fmt.Errorf("%d synset offsets, want %d", len(offs), nsyn)
		}
		e := entry{pos: p}
		for _, o := range offs {
			off, err := parseUint(o, 10)
			if err != nil {
				return err
			}
			if _, ok := wn.ids[p][off]; !ok {
				return fmt.Errorf("no synset at offset %d", off)
			}
			e.senses = append(e.senses, off)
		}
		w := lemma(f[0])
		if es := wn.entries[w]; len(es) > 0 && es[len(es)-1].pos == p {
			return fmt.Errorf("duplicate lemma %q", w)
		}
		wn.entries[w] = append(wn.entries[w], e)
		return nil
	})
}

func (wn *wordnet) readExc(dir string, p int) error {
	wn.exc[p] = make(map[string][]string)
	return readLines(dir, posNames[p]+".exc", func(f []string) error {
		if len(f) < 2 {
			return errors.New("short line")
		}
		form := lemma(f[0])
		for _, b := range f[1:] {
			if b = lemma(b); wn.entry(b, p) != nil && !slices.Contains(wn.exc[p][form], b) {
				wn.exc[p][form] = append(wn.exc[p][form], b)
			}
		}
		return nil
	})
}

// readCounts sums cntlist.rev's tag counts per lemma and POS. Its lines
// are "sense_key sense_number tag_cnt", the sense key beginning with
// "lemma%ss_type:".
func (wn *wordnet) readCounts(dir string) error {
	return readLines(dir, "cntlist.rev", func(f []string) error {
		if len(f) != 3 {
			return errors.New("want 3 fields")
		}
		w, rest, ok := strings.Cut(f[0], "%")
		if !ok || rest == "" || rest[0] < '1' || rest[0] > '5' {
			return fmt.Errorf("bad sense key %q", f[0])
		}
		p := [...]int{0, 1, 2, 3, 2}[rest[0]-'1'] // ss_type 1 n, 2 v, 3 a, 4 r, 5 s
		n, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			return err
		}
		if e := wn.entry(lemma(w), p); e != nil {
			e.freq += n
		}
		return nil
	})
}

func (wn *wordnet) entry(w string, p int) *entry {
	for i, e := range wn.entries[w] {
		if e.pos == p {
			return &wn.entries[w][i]
		}
	}
	return nil
}

func (wn *wordnet) encode() ([]byte, error) {
	// The string table: lemmas and exception forms.
	strs := make([]string, 0, len(wn.entries))
	for w := range wn.entries {
		strs = append(strs, w)
	}
	for p := range 4 {
		for form := range wn.exc[p] {
			strs = append(strs, form) // has at least one base

		}
	}
	slices.Sort(strs)
	strs = slices.Compact(strs)
	sid := make(map[string]uint32, len(strs))
	for i, s := range strs {
		if s == "" || len(s) > 255 || strings.ContainsAny(s, "\n") {
			return nil, fmt.Errorf("bad lemma %q", s)
		}
		sid[s] = uint32(i)
	}

	var base [4]uint32 // first global synset id of each POS
	for p := 1; p < 4; p++ {
		base[p] = base[p-1] + uint32(len(wn.synsets[p-1]))
	}
	// global returns the dense id of the synset at offset off of POS p.
	global := func(p int, off uint32) (uint32, error) {
		id, ok := wn.ids[p][off]
		if !ok {
			return 0, fmt.Errorf("no %s synset at offset %d", posNames[p], off)
		}
		return base[p] + id, nil
	}

	b := []byte(magic)
	b = binary.AppendUvarint(b, uint64(len(strs)))
	prevStr := ""
	for _, s := range strs {
		k := commonPrefix(prevStr, s)
		b = append(b, byte(k))
		b = append(b, s[k:]...)
		b = append(b, '\n')
		prevStr = s
	}
	var ents []entry
	for _, s := range strs {
		var mask byte
		for _, e := range wn.entries[s] {
			mask |= 1 << e.pos
			ents = append(ents, e)
		}
		b = append(b, mask)
	}
	for p := range 4 {
		b = binary.AppendUvarint(b, uint64(len(wn.synsets[p])))
	}
	for _, e := range ents {
		b = binary.AppendUvarint(b, uint64(len(e.senses)))
	}
	for _, e := range ents {
		if e.freq > math.MaxUint16 { // the package keeps uint16s
			return nil, fmt.Errorf("tag count %d over %d", e.freq, math.MaxUint16)
		}
		b = binary.AppendUvarint(b, e.freq)
	}
	for _, e := range ents {
		for _, off := range e.senses {
			b = binary.AppendUvarint(b, uint64(wn.ids[e.pos][off]))
		}
	}

	const adj = 2
	var sats []uint32
	for i, s := range wn.synsets[adj] {
		if s.sat {
			sats = append(sats, uint32(i))
		}
	}
	b = binary.AppendUvarint(b, uint64(len(sats)))
	prev := uint32(0)
	for _, i := range sats {
		b = binary.AppendUvarint(b, uint64(i-prev))
		prev = i
	}

	type ant struct{ src, srcLemma, dst, dstLemma uint32 }
	var ants []ant
	for p := range 4 {
		for i, s := range wn.synsets[p] {
			src := base[p] + uint32(i)
			var sim []uint32
			for _, r := range s.ptrs {
				dst, err := global(r.pos, r.offset)
				if err != nil {
					return nil, err
				}
				if r.sym == "&" {
					if p != adj || r.pos != adj {
						return nil, fmt.Errorf("similar-to pointer outside adjectives at %s synset %d", posNames[p], i)
					}
					sim = append(sim, dst)
					continue
				}
				// Antonyms: lexical pointers; a semantic one (0000)
				// relates every word of either synset.
				t := wn.synsets[r.pos][dst-base[r.pos]]
				for ws, a := range s.words {
					for wt, z := range t.words {
						if (r.src == 0 || r.src == ws+1) && (r.dst == 0 || r.dst == wt+1) {
							ants = append(ants, ant{src, sid[a], dst, sid[z]})
						}
					}
				}
			}
			if p == adj {
				if s.sat && len(sim) != 1 {
					return nil, fmt.Errorf("adjective satellite %d has %d similar-to pointers, want 1 (its head)", i, len(sim))
				}
				b = binary.AppendUvarint(b, uint64(len(sim)))
				for _, d := range sim {
					b = binary.AppendVarint(b, int64(d)-int64(src))
				}
			}
		}
	}
	slices.SortFunc(ants, func(x, y ant) int {
		return cmpAll(x.src, y.src, x.srcLemma, y.srcLemma, x.dst, y.dst, x.dstLemma, y.dstLemma)
	})
	ants = slices.Compact(ants)
	b = binary.AppendUvarint(b, uint64(len(ants)))
	prev = 0
	for _, a := range ants {
		b = binary.AppendUvarint(b, uint64(a.src-prev))
		b = binary.AppendUvarint(b, uint64(a.srcLemma))
		b = binary.AppendVarint(b, int64(a.dst)-int64(a.src))
		b = binary.AppendUvarint(b, uint64(a.dstLemma))
		prev = a.src
	}

	type exc struct{ form, pos, base uint32 }
	var excs []exc
	for p := range 4 {
		for form, bases := range wn.exc[p] {
			for _, bs := range bases {
				excs = append(excs, exc{sid[form], uint32(p), sid[bs]})
			}
		}
	}
	// Stable on (form, POS): bases keep their file order.
	slices.SortStableFunc(excs, func(x, y exc) int { return cmpAll(x.form, y.form, x.pos, y.pos) })
	b = binary.AppendUvarint(b, uint64(len(excs)))
	prev = 0
	for _, e := range excs {
		b = binary.AppendUvarint(b, uint64(e.form-prev))
		b = append(b, byte(e.pos))
		b = binary.AppendUvarint(b, uint64(e.base))
		prev = e.form
	}
	return b, nil
}

func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// cmpAll compares pairs (x0, y0), (x1, y1), ... lexicographically.
func cmpAll(xy ...uint32) int {
	for i := 0; i < len(xy); i += 2 {
		if xy[i] != xy[i+1] {
			if xy[i] < xy[i+1] {
				return -1
			}
			return 1
		}
	}
	return 0
}
