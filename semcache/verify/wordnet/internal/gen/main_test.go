package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// built is Build(defaultDir), computed once.
var built = sync.OnceValues(func() ([]byte, error) { return Build(defaultDir) })

func build(t *testing.T) []byte {
	t.Helper()
	if _, err := os.Stat(filepath.Join(defaultDir, "index.noun")); err != nil {
		t.Skipf("no WordNet database: %v", err)
	}
	raw, err := built()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestDeterministic checks that two runs give the same bytes (map
// iteration order differs between them).
func TestDeterministic(t *testing.T) {
	raw1 := build(t)
	raw2, err := Build(defaultDir)
	if err != nil {
		t.Fatal(err)
	}
	dat1, err := Compress(raw1)
	if err != nil {
		t.Fatal(err)
	}
	dat2, err := Compress(raw2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dat1, dat2) {
		t.Errorf("two runs differ: %d and %d bytes", len(dat1), len(dat2))
	}
}

// TestEmbeddedUpToDate checks that the package's wordnet.dat holds what
// the generator builds now (comparing payloads, so that a change in
// compress/flate's output does not matter), and LICENSE.wordnet the
// licence. Run go generate if it fails.
func TestEmbeddedUpToDate(t *testing.T) {
	raw := build(t)
	f, err := os.Open("../../wordnet.dat")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(embedded, raw) {
		t.Errorf("wordnet.dat is stale (%d bytes of payload, want %d): run go generate ./semcache/verify/wordnet", len(embedded), len(raw))
	}

	lic, err := License(copyrightFile)
	if err != nil {
		t.Skip(err)
	}
	if b, err := os.ReadFile("../../LICENSE.wordnet"); err != nil || !bytes.Equal(b, lic) {
		t.Errorf("LICENSE.wordnet is stale or missing (%v): run go generate ./semcache/verify/wordnet", err)
	}
}

func TestLicense(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "copyright")
	const copyright = `Files: *
License: WordNet3.0
 Permission to use.
 .
 WordNet 3.0 Copyright 2006.

Files: debian/*
License: GPL-2+
 Not this.
`
	if err := os.WriteFile(path, []byte(copyright), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := License(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "Permission to use.\n\nWordNet 3.0 Copyright 2006.\n"; string(got) != want {
		t.Errorf("License = %q, want %q", got, want)
	}
	if err := os.WriteFile(path, []byte("Files: *\nLicense: MIT\n x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := License(path); err == nil {
		t.Error("License found a WordNet licence in an MIT-only file")
	}
}
