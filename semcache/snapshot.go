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
// there is nothing worth saving (an index still on its flat tier). It must
// not hold up the index's writers for the encoding and the write (copy
// under the lock, encode outside it): the cache writes snapshots
// periodically while serving.
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

// ErrInvalidConfig: a CacheConfig field is out of range.
var ErrInvalidConfig = errors.New("semcache: invalid cache config")

// Defaults for CacheConfig's snapshot fields.
const (
	// DefaultSnapshotInterval is how often changed partition indexes are
	// snapshotted while the cache runs.
	DefaultSnapshotInterval = 5 * time.Minute
	// MinSnapshotInterval is the shortest interval CacheConfig accepts.
	MinSnapshotInterval = time.Second
	// DefaultSnapshotMinChanges is how many changes a partition index
	// needs since its last snapshot to be snapshotted again periodically.
	DefaultSnapshotMinChanges = 1000
)

const snapshotExt = ".idx"

// validate reports every problem of cc's fields that have a range; each
// error wraps ErrInvalidConfig.
func (cc *CacheConfig) validate() error {
	var errs []error
	if cc.SnapshotInterval > 0 && cc.SnapshotInterval < MinSnapshotInterval {
		errs = append(errs, fmt.Errorf("%w: snapshot interval %v is under %v", ErrInvalidConfig, cc.SnapshotInterval, MinSnapshotInterval))
	}
	if cc.SnapshotMinChanges < 0 {
		errs = append(errs, fmt.Errorf("%w: snapshot minimum changes %d is negative", ErrInvalidConfig, cc.SnapshotMinChanges))
	}
	if cc.BackgroundLoad < 0 {
		errs = append(errs, fmt.Errorf("%w: background load threshold %d is negative", ErrInvalidConfig, cc.BackgroundLoad))
	}
	return errors.Join(errs...)
}

// snapMark records a partition's last snapshot: the index written (or
// loaded) and its version then.
type snapMark struct {
	idx     Index
	version uint64
}

// version returns the index's change count, and false if it keeps none.
func version(idx Index) (uint64, bool) {
	v, ok := idx.(Versioned)
	if !ok {
		return 0, false
	}
	return v.Version(), true
}

// snapshotFiles lists the partition snapshots in the snapshot directory.
// A directory that cannot be read means no snapshots (logged unless it
// does not exist).
func (c *Cache) snapshotFiles() map[ID]string {
	files := map[ID]string{}
	if c.snapDir == "" || c.loadIndex == nil || c.embedder == "" {
		return files
	}
	entries, err := os.ReadDir(c.snapDir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			c.log.Warn("cache: reading snapshots failed; rebuilding indexes", "error", err)
		}
		return files
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
		files[part] = filepath.Join(c.snapDir, name)
	}
	return files
}

// loadSnapshot reads a partition's snapshot with LoadIndex. A stale or
// corrupt snapshot is logged and nil returned: the partition is rebuilt
// from the store.
func (c *Cache) loadSnapshot(part ID, path string) Index {
	t0 := time.Now()
	idx, err := c.readSnapshot(path)
	if err != nil {
		c.log.Warn("cache: ignoring a snapshot; the partition is rebuilt", "file", path, "error", err)
		return nil
	}
	v, _ := version(idx)
	c.rb.snapMu.Lock()
	c.rb.marks[part] = snapMark{idx, v}
	c.rb.snapMu.Unlock()
	c.log.Debug("cache: snapshot loaded", "partition", part.String(), "took", time.Since(t0).String())
	return idx
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

// WriteSnapshots saves every partition index that supports it and changed
// since its last snapshot, atomically (write to a temporary file, then
// rename), and removes snapshots of partitions that no longer have one.
// The cache calls it on Close; while it runs it also writes them every
// SnapshotInterval (see snapshotter). It writes nothing while the indexes
// are still loading (see CacheConfig.BackgroundLoad): they are incomplete,
// and the snapshots on disk still hold what they would lose.
func (c *Cache) WriteSnapshots() error { return c.writeSnapshots(1, false) }

// writeSnapshots writes the snapshots of partitions that changed by at
// least minChanges since their last one (always, for indexes that do not
// count their changes). An index's WriteSnapshot holds its writers only to
// copy it; no cache lock is held meanwhile. Snapshot writes are
// serialised. A periodic run gives up at Close, which writes the rest.
func (c *Cache) writeSnapshots(minChanges uint64, periodic bool) error {
	if c.snapDir == "" || c.embedder == "" || !c.rb.loadedOK.Load() {
		return nil
	}
	c.rb.snapMu.Lock()
	defer c.rb.snapMu.Unlock()
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
	keep := map[string]bool{}
	written := 0
	var errs []error
	for part, idx := range parts {
		if periodic && c.stopping() {
			return nil // Close writes what is left (and keeps the files not visited)
		}
		s, ok := idx.(Snapshotter)
		if !ok {
			continue
		}
		name := part.String() + snapshotExt
		v, counted := version(idx)
		if m, ok := c.rb.marks[part]; ok && m.idx == idx && counted && v-m.version < minChanges {
			keep[name] = true // unchanged enough: its snapshot stands
			continue
		}
		if h := c.rb.hooks.snapshot; h != nil {
			h(part)
		}
		err := writeAtomic(filepath.Join(c.snapDir, name), func(w io.Writer) error { return s.WriteSnapshot(w, c.embedder) })
		switch {
		case err == nil:
			keep[name] = true
			c.rb.marks[part] = snapMark{idx, v}
			written++
		case errors.Is(err, ErrNoSnapshot):
			delete(c.rb.marks, part)
		default:
			errs = append(errs, fmt.Errorf("partition %s: %w", part, err))
			if m, ok := c.rb.marks[part]; ok && m.idx == idx {
				keep[name] = true // the older snapshot is still this index's
			}
		}
	}
	if entries, err := os.ReadDir(c.snapDir); err == nil {
		for _, de := range entries {
			stale := strings.HasSuffix(de.Name(), snapshotExt) && !keep[de.Name()]
			if stale || strings.HasPrefix(de.Name(), ".tmp-") { // a temporary file left by a crash
				os.Remove(filepath.Join(c.snapDir, de.Name()))
			}
		}
	}
	for part := range c.rb.marks {
		if !keep[part.String()+snapshotExt] {
			delete(c.rb.marks, part)
		}
	}
	if written > 0 {
		c.log.Info("cache: index snapshots written", "partitions", written, "took", time.Since(t0).String())
	}
	if len(errs) > 0 {
		return fmt.Errorf("semcache: snapshots: %w", errors.Join(errs...))
	}
	return nil
}

// snapshotter writes the snapshots of partitions that changed by
// SnapshotMinChanges every SnapshotInterval, and soon after a partition's
// graph is built, until Close. It starts once the indexes are loaded.
func (c *Cache) snapshotter(every time.Duration, minChanges uint64) {
	defer c.rb.wg.Done()
	select {
	case <-c.stop:
		return
	case <-c.rb.loaded:
	}
	tick := c.rb.hooks.snapTick
	if tick == nil {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-c.stop:
			return
		case <-tick:
		case <-c.rb.built:
		}
		if err := c.writeSnapshots(minChanges, true); err != nil {
			c.log.Warn("cache: writing index snapshots failed", "error", err)
		}
	}
}

// writeAtomic writes path through a temporary file in the same directory,
// synced, then renamed over it, and syncs the directory.
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
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync() // best effort: the rename survives a power loss
		d.Close()
	}
	return nil
}
