// Command restart measures how fast semgate serves again after a crash
// with a large cache: the time from start to /readyz (the cache open and
// serving exact hits), and to every partition's vector graph being ready
// (semantic lookups by graph instead of a flat scan).
//
// Usage (from the repository root):
//
//	go run ./bench/restart build -dir DIR -n 1000000 [-parts 1] [-graph]
//	go run ./bench/restart run   -dir DIR [-extra 2000] [-snapshot-wait 10m]
//	go run ./bench/restart open  -dir DIR
//
// build writes a data directory of n cache entries (random unit vectors of
// the default embedder's 512 dimensions, in -parts partitions; one is the
// worst case) through the cache, as semgate would, and closes it. With
// -graph it then opens the cache with the HNSW index, waits for the graphs
// to be built and closes it again, which writes their snapshots.
//
// run simulates a crash and measures the restart with the real binary
// (built from ./cmd/semgate): a child process (this command, hidden
// subcommand "child") opens the data directory like semgate does, waits
// until a periodic snapshot has been written (-snapshot-wait; 0: does not
// wait), adds -extra entries the snapshot does not have, and is killed with
// SIGKILL. Then `semgate serve --data-dir DIR` starts and the command
// reports the time to /readyz answering 200 and to /admin/cache/stats
// reporting no partition index building. run works on a copy of DIR
// (DIR.run), so one build serves several runs.
//
// open times semcache.Open in this process (no HTTP) and then the graphs.
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/semgate/semgate/bench/internal/harness"
	"github.com/semgate/semgate/embed"
	"github.com/semgate/semgate/semcache"
	"github.com/semgate/semgate/semcache/hnsw"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: restart build|run|open [flags] (see the package documentation)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = cmdBuild(ctx, os.Args[2:])
	case "run":
		err = cmdRun(ctx, os.Args[2:])
	case "open":
		err = cmdOpen(ctx, os.Args[2:])
	case "child":
		err = cmdChild(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "restart:", err)
		os.Exit(1)
	}
}

// embedderID returns the ID and dimension of the default embedder (the
// lexical one, 512 dimensions, as with an empty embed: section).
func embedderID() (string, int, error) {
	e, err := embed.New(embed.Options{})
	if err != nil {
		return "", 0, err
	}
	return e.ID(), e.Dim(), nil
}

// cacheOptions lifts the caps so that nothing is evicted.
func cacheOptions() semcache.Options {
	return semcache.Options{NoSync: true, MaxEntries: 1 << 30, MaxBytes: 1 << 50, TTL: 24 * 365 * time.Hour}
}

// gen makes entries and their vectors.
type gen struct {
	rng   *rand.Rand
	dim   int
	parts int
}

func (g *gen) entry(i int) (*semcache.Entry, []float32) {
	var id, part semcache.ID
	binary.BigEndian.PutUint64(id[:], uint64(i)+1)
	binary.BigEndian.PutUint64(id[8:], 0x5e6a7e)
	binary.BigEndian.PutUint64(part[:], uint64(i%g.parts)+1)
	e := &semcache.Entry{ID: id, Partition: part, Kind: "chat", Model: "mock-small", Provider: "mock",
		UpstreamModel: "mock-small", Prompt: fmt.Sprintf("bench question number %d about topic %d", i, i%977),
		Body: []byte(`{"id":"x","object":"chat.completion","choices":[]}`), Semantic: true}
	v := make([]float32, g.dim)
	var n float64
	for j := range v {
		x := g.rng.NormFloat64()
		v[j] = float32(x)
		n += x * x
	}
	inv := float32(1 / math.Sqrt(n))
	for j := range v {
		v[j] *= inv
	}
	return e, v
}

// indexConfig is the gateway's index wiring (gateway/index.go) with the
// default options (and the gateway's BackgroundLoad, set by openCache).
func indexConfig(o hnsw.Options, dir string, cc *semcache.CacheConfig) {
	cc.NewIndex = func(dim int) semcache.Index { return hnsw.New(dim, o) }
	cc.LoadIndex = func(r io.Reader, embedderID string, dim int) (semcache.Index, error) {
		return hnsw.ReadSnapshot(r, embedderID, dim, o)
	}
	cc.SnapshotDir = filepath.Join(dir, "snapshots")
}

func openCache(dir string, hnswIndex bool, log *slog.Logger) (*semcache.Store, *semcache.Cache, time.Duration, error) {
	id, dim, err := embedderID()
	if err != nil {
		return nil, nil, 0, err
	}
	t0 := time.Now()
	st, err := semcache.OpenStore(semcache.StoreOptions{Dir: dir, Logger: log})
	if err != nil {
		return nil, nil, 0, err
	}
	cc := semcache.CacheConfig{EmbedderID: id, Dim: dim, Logger: log, BackgroundLoad: 50_000}
	if hnswIndex {
		indexConfig(hnsw.Options{}, dir, &cc)
	}
	c, err := semcache.Open(st, cacheOptions(), cc)
	if err != nil {
		st.Close()
		return nil, nil, 0, err
	}
	return st, c, time.Since(t0), nil
}

func cmdBuild(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	dir := fs.String("dir", "", "data directory to create (must not exist)")
	n := fs.Int("n", 100000, "entries")
	parts := fs.Int("parts", 1, "partitions")
	graph := fs.Bool("graph", false, "build the HNSW graphs and write their snapshots")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("build: -dir is required")
	}
	if _, err := os.Stat(*dir); err == nil {
		return fmt.Errorf("build: %s exists", *dir)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, c, _, err := openCache(*dir, false, log)
	if err != nil {
		return err
	}
	_, dim, _ := embedderID()
	g := &gen{rng: rand.New(rand.NewPCG(1, 2)), dim: dim, parts: max(*parts, 1)}
	t0 := time.Now()
	for i := range *n {
		if ctx.Err() != nil {
			break
		}
		e, v := g.entry(i)
		if err := c.Put(e, v); err != nil {
			c.Close()
			st.Close()
			return err
		}
		if (i+1)%100000 == 0 {
			fmt.Fprintf(os.Stderr, "build: %d entries in %s\n", i+1, time.Since(t0).Round(time.Second))
		}
	}
	c.Close()
	if err := st.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "build: %d entries written in %s\n", *n, time.Since(t0).Round(time.Second))
	if !*graph || ctx.Err() != nil {
		return ctx.Err()
	}
	t1 := time.Now()
	st, c, _, err = openCache(*dir, true, log)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := waitGraphs(ctx, c, 0); err != nil {
		c.Close()
		return err
	}
	fmt.Fprintf(os.Stderr, "build: graphs built in %s\n", time.Since(t1).Round(time.Second))
	return c.Close()
}

// waitGraphs waits until no partition index is building.
func waitGraphs(ctx context.Context, c *semcache.Cache, every time.Duration) error {
	t0 := time.Now()
	last := time.Now()
	for !c.IndexesReady() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if every > 0 && time.Since(last) > every {
			last = time.Now()
			fmt.Fprintf(os.Stderr, "  %s: %d partitions building\n", time.Since(t0).Round(time.Second), c.Stats().IndexesBuilding)
		}
	}
	return nil
}

func cmdOpen(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("open", flag.ContinueOnError)
	dir := fs.String("dir", "", "data directory (not changed: the command exits without closing the cache)")
	graphs := fs.Bool("graphs", true, "wait for the graphs too")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if p := os.Getenv("CPUPROF"); p != "" {
		f, _ := os.Create(p)
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	t0 := time.Now()
	st, c, took, err := openCache(*dir, true, log)
	if err != nil {
		return err
	}
	// No Close: it would write snapshots into dir. The process just ends.
	_ = st
	s := c.Stats()
	fmt.Printf("open: %d entries, serving after %s\n", s.Entries, took.Round(time.Millisecond))
	for c.Stats().SemanticLoading {
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	fmt.Printf("open: semantic tier loaded after %s\n", time.Since(t0).Round(time.Millisecond))
	if *graphs {
		if err := waitGraphs(ctx, c, 30*time.Second); err != nil {
			return err
		}
		fmt.Printf("open: graphs ready after %s\n", time.Since(t0).Round(time.Millisecond))
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("open: heap in use %d MiB\n", ms.HeapInuse>>20)
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// cmdChild is the process the run command kills: it opens the data
// directory as semgate does, waits (-wait loaded: for the semantic tier;
// ready: for the graphs too), adds -extra entries, says so on stdout and
// waits to be killed.
func cmdChild(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("child", flag.ContinueOnError)
	dir := fs.String("dir", "", "data directory")
	extra := fs.Int("extra", 0, "entries to add before the kill")
	parts := fs.Int("parts", 1, "partitions (as built)")
	wait := fs.String("wait", "loaded", "loaded | ready")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	st, c, _, err := openCache(*dir, true, log)
	if err != nil {
		return err
	}
	for c.Stats().SemanticLoading {
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	if *wait == "ready" {
		if err := waitGraphs(ctx, c, time.Minute); err != nil {
			return err
		}
	}
	_, dim, _ := embedderID()
	g := &gen{rng: rand.New(rand.NewPCG(3, 4)), dim: dim, parts: max(*parts, 1)}
	base := c.Stats().Entries
	t0 := time.Now()
	for i := range *extra {
		e, v := g.entry(base + i)
		if err := c.Put(e, v); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "child: %d entries added in %s\n", *extra, time.Since(t0).Round(time.Millisecond))
	fmt.Println("kill me")
	<-ctx.Done() // never closed: SIGKILL ends us
	st.Close()
	return nil
}

// cmdRun is the crash-and-restart scenario (see the package
// documentation).
func cmdRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	dir := fs.String("dir", "", "data directory written by build (copied, not changed)")
	extra := fs.Int("extra", 2000, "entries the killed process adds after loading (newer than any snapshot)")
	parts := fs.Int("parts", 1, "partitions (as built)")
	wait := fs.String("wait", "loaded", "what the killed process waits for before adding: loaded | ready (graphs built)")
	graphs := fs.Duration("graphs-timeout", time.Hour, "how long to wait for the graphs after the restart")
	semgate := fs.String("semgate", "", "semgate binary (default: built from ./cmd/semgate)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" {
		return errors.New("run: -dir is required")
	}
	work := strings.TrimRight(*dir, "/") + ".run"
	os.RemoveAll(work)
	if out, err := exec.CommandContext(ctx, "cp", "-a", *dir, work).CombinedOutput(); err != nil {
		return fmt.Errorf("copy %s: %v: %s", *dir, err, out)
	}
	defer os.RemoveAll(work)
	tmp, err := os.MkdirTemp("", "restart-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := *semgate
	if bin == "" {
		bin = filepath.Join(tmp, "semgate")
		if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/semgate").CombinedOutput(); err != nil {
			return fmt.Errorf("go build ./cmd/semgate: %v\n%s", err, out)
		}
	}

	// 1. The process that crashes.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.CommandContext(ctx, self, "child", "-dir", work, "-extra", fmt.Sprint(*extra), "-parts", fmt.Sprint(*parts), "-wait", *wait)
	childLog, _ := os.Create(filepath.Join(tmp, "child.log"))
	child.Stderr = childLog
	out, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := child.Start(); err != nil {
		return err
	}
	line := make([]byte, 64)
	if n, err := out.Read(line); err != nil || !strings.Contains(string(line[:n]), "kill me") {
		child.Process.Kill()
		child.Wait()
		tail, _ := os.ReadFile(childLog.Name())
		return fmt.Errorf("child: %v %q\n%s", err, line[:n], tail)
	}
	fmt.Fprintf(os.Stderr, "run: child ready to be killed after %s\n", time.Since(t0).Round(time.Millisecond))
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	snaps, _ := filepath.Glob(filepath.Join(work, "snapshots", "*.idx"))
	fmt.Fprintf(os.Stderr, "run: child killed; %d snapshot files on disk; load average %.1f\n", len(snaps), harness.LoadAvg())

	// 2. The restart, through the real binary.
	addr, err := harness.FreeAddr()
	if err != nil {
		return err
	}
	cfg := filepath.Join(tmp, "semgate.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`log: {level: info, format: text, requests: false}
storage: {data_dir: %s}
cache: {max_entries: 100000000, max_bytes: 1099511627776, ttl: 8760h}
providers:
  - {name: mock, type: mock}
models:
  - name: mock-small
    deployments: [{provider: mock, model: mock-small}]
`, work)), 0o644)
	srvLog, _ := os.Create(filepath.Join(tmp, "semgate.log"))
	srv := exec.CommandContext(ctx, bin, "serve", "--config", cfg, "--listen", addr)
	srv.Stdout, srv.Stderr = srvLog, srvLog
	start := time.Now()
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() {
		srv.Process.Signal(syscall.SIGKILL)
		srv.Wait()
	}()
	client := &http.Client{Timeout: 2 * time.Second}
	get := func(path string) (int, []byte) {
		resp, err := client.Get("http://" + addr + path)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for {
		if code, _ := get("/readyz"); code == http.StatusOK {
			break
		}
		if time.Since(start) > 10*time.Minute {
			tail, _ := os.ReadFile(srvLog.Name())
			return fmt.Errorf("semgate not ready after 10m:\n%s", tail)
		}
		if err := sleep(ctx, 5*time.Millisecond); err != nil {
			return err
		}
	}
	ready := time.Since(start)
	fmt.Fprintf(os.Stderr, "run: /readyz 200 after %s\n", ready.Round(time.Millisecond))
	var st struct {
		Entries         int  `json:"entries"`
		SemanticLoading bool `json:"semantic_loading"`
		IndexesBuilding int  `json:"indexes_building"`
	}
	var loaded, built time.Duration
	for built == 0 {
		code, body := get("/admin/cache/stats")
		if code == http.StatusOK && json.Unmarshal(body, &st) == nil {
			if loaded == 0 && !st.SemanticLoading {
				loaded = time.Since(start)
				fmt.Fprintf(os.Stderr, "run: semantic tier loaded after %s (%d entries)\n", loaded.Round(time.Millisecond), st.Entries)
			}
			if loaded > 0 && st.IndexesBuilding == 0 {
				built = time.Since(start)
			}
		}
		if time.Since(start) > *graphs {
			fmt.Fprintf(os.Stderr, "run: graphs still building after %s; giving up\n", *graphs)
			break
		}
		if err := sleep(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
	if b, err := os.ReadFile(srvLog.Name()); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "cache loaded") || strings.Contains(l, "semantic tier loaded") ||
				strings.Contains(l, "index built") || strings.Contains(l, "snapshot") {
				fmt.Fprintln(os.Stderr, "semgate:", l)
			}
		}
	}
	fmt.Printf("load average %.1f at the end (2 CPUs)\n\n", harness.LoadAvg())
	fmt.Printf("| entries | extra after kill | snapshot | /readyz | semantic loaded | graphs ready |\n|---|---|---|---|---|---|\n")
	graphsCell := "not within " + graphs.String()
	if built > 0 {
		graphsCell = built.Round(100 * time.Millisecond).String()
	}
	fmt.Printf("| %d | %d | %v | %s | %s | %s |\n", st.Entries, *extra, len(snaps) > 0,
		ready.Round(time.Millisecond), loaded.Round(10*time.Millisecond), graphsCell)
	return nil
}
