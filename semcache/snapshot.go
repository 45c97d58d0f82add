package semcache

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Snapshotter is implemented by indexes that are expensive to rebuild (a
// graph) and can save themselves. WriteSnapshot returns ErrNoSnapshot when
// there is nothing worth saving (an index still on its flat tier).
type Snapshotter interface {
	WriteSnapshot(w io.Writer, embedderID string) error
}

// Enumerator is implemented by indexes that can list the IDs they hold;
// the cache needs it to reconcile a loaded snapshot with the store.
type Enumerator interface {
	IDs() []ID
}

// ErrNoSnapshot: the index has nothing worth snapshotting.
var ErrNoSnapshot = errors.New("semcache: nothing to snapshot")

const snapshotExt = ".idx"

// loadSnapshots reads every partition snapshot in the snapshot directory
// with LoadIndex. A missing, stale or corrupt snapshot is logged and
// skipped: that partition is rebuilt from the store. It returns the
// partitions loaded.
func (c *Cache) loadSnapshots() map[ID]bool {
	loaded := map[ID]bool{}
	if c.snapDir == "" || c.loadIndex == nil || c.embedder == "" {
		return loaded
	}
	entries, err := os.ReadDir(c.snapDir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			c.log.Warn("cache: reading snapshots failed; rebuilding indexes", "error", err)
		}
		return loaded
	}
	for _, de := range entries {
		name := de.Name()
		if !strings.HasSuffix(name, snapshotExt) {
			continue
		}
		part, err := ParseID(strings.TrimSuffix(name, snapshotExt))
		if err != nil {
			continue
		}
		path := filepath.Join(c.snapDir, name)
		idx, err := c.readSnapshot(path)
		if err != nil {
			c.log.Warn("cache: ignoring a snapshot; the partition is rebuilt", "file", path, "error", err)
			continue
		}
		c.parts[part] = idx
		loaded[part] = true
	}
	return loaded
}

func (c *Cache) readSnapshot(path string) (Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	idx, err := c.loadIndex(bufio.NewReaderSize(f, 1<<20), c.embedder, c.dim)
	if err != nil {
		return nil, err
	}
	if _, ok := idx.(Enumerator); !ok {
		return nil, fmt.Errorf("semcache: a loaded index cannot list its IDs")
	}
	return idx, nil
}

// reconcile makes loaded partition indexes agree with the store: vectors
// written after the snapshot are added, IDs deleted since are removed.
// seen holds, per loaded partition, the IDs the store has.
func (c *Cache) reconcile(seen map[ID]map[ID]bool) {
	for part, ids := range seen {
		idx, ok := c.parts[part]
		if !ok {
			continue
		}
		for _, id := range idx.(Enumerator).IDs() {
			if !ids[id] {
				idx.Delete(id)
			}
		}
	}
}

// WriteSnapshots saves every partition index that supports it, atomically
// (write to a temporary file, then rename), and removes snapshots of
// partitions that no longer have one. The cache calls it on Close.
func (c *Cache) WriteSnapshots() error {
	if c.snapDir == "" || c.embedder == "" {
		return nil
	}
	if err := os.MkdirAll(c.snapDir, 0o755); err != nil {
		return fmt.Errorf("semcache: snapshots: %w", err)
	}
	t0 := time.Now()
	c.mu.RLock()
	parts := make(map[ID]Index, len(c.parts))
	for p, idx := range c.parts {
		parts[p] = idx
	}
	c.mu.RUnlock()
	written := map[string]bool{}
	var errs []error
	for part, idx := range parts {
		s, ok := idx.(Snapshotter)
		if !ok {
			continue
		}
		name := part.String() + snapshotExt
		err := writeAtomic(filepath.Join(c.snapDir, name), func(w io.Writer) error { return s.WriteSnapshot(w, c.embedder) })
		switch {
		case err == nil:
			written[name] = true
		case errors.Is(err, ErrNoSnapshot):
		default:
			errs = append(errs, fmt.Errorf("partition %s: %w", part, err))
		}
	}
	if entries, err := os.ReadDir(c.snapDir); err == nil {
		for _, de := range entries {
			if strings.HasSuffix(de.Name(), snapshotExt) && !written[de.Name()] {
				os.Remove(filepath.Join(c.snapDir, de.Name()))
			}
		}
	}
	if len(written) > 0 {
		c.log.Info("cache: index snapshots written", "partitions", len(written), "took", time.Since(t0).String())
	}
	return errors.Join(errs...)
}

func writeAtomic(path string, fn func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := fn(bw); err != nil {
		tmp.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
