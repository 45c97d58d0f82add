package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/semgate/semgate/semcache"
)

// Cache fills on the stream <prefix>:fills, one stream entry per fill,
// its fields binary-safe strings:
//
//	v       format version ("1")
//	r       the replica that stored it
//	t       "put"
//	id, p   the entry's ID and partition (16 bytes each)
//	kind, model, ns, tenant, prov, um, prompt
//	        Entry.Kind, Model, Namespace, Tenant, Provider, UpstreamModel, Prompt
//	body    the answer as sent (JSON, or encoded stream events)
//	f       flags: 's' stream, 'c' convertible, 'w' semantic
//	pt, ct  prompt and completion tokens (decimal)
//	cost    CostUSD (IEEE 754 bits, 8 bytes big-endian)
//	cr, ex  created and expiry (Unix milliseconds, decimal; ex 0: never)
//	emb     the sender's embedder id, when it carries a vector
//	vec     the vector, little-endian float32s
//
// Deletions and flushes made through the admin API travel on the same
// stream, in order with the fills:
//
//	v, r    as above
//	t       "del": id, the entry's ID; or "flush": model, ns, tenant,
//	        what the flush selected ("" for any), each replica selecting
//	        the tenant's entries by its own rule (Deps.TenantFilter)
//
// A replica of an earlier release skips them as of an unknown type.
const fillVersion = "1"

// Stream entry types.
const (
	opPut   = "put"
	opDel   = "del"
	opFlush = "flush"
)

// fill is one change of the cache on the stream: a fill (op "put"), a
// deletion or a flush.
type fill struct {
	op       string
	replica  string
	e        *semcache.Entry
	embedder string
	vec      []float32
	size     int
	id       semcache.ID // del
	flush    Flush       // flush
}

// Flush is what a flush of the cache selected: entries of a model alias,
// a namespace and a tenant ("" for any; all "": every entry).
type Flush struct {
	Model, Namespace, Tenant string
}

func (f *fill) values() []any {
	switch f.op {
	case opDel:
		return []any{"v", fillVersion, "r", f.replica, "t", opDel, "id", f.id[:]}
	case opFlush:
		return []any{"v", fillVersion, "r", f.replica, "t", opFlush, "model", f.flush.Model, "ns", f.flush.Namespace, "tenant", f.flush.Tenant}
	}
	e := f.e
	var flags []byte
	if e.Stream {
		flags = append(flags, 's')
	}
	if e.Convertible {
		flags = append(flags, 'c')
	}
	if e.Semantic {
		flags = append(flags, 'w')
	}
	cost := binary.BigEndian.AppendUint64(nil, math.Float64bits(e.CostUSD))
	v := []any{
		"v", fillVersion, "r", f.replica, "t", "put",
		"id", e.ID[:], "p", e.Partition[:],
		"kind", e.Kind, "model", e.Model, "ns", e.Namespace, "tenant", e.Tenant,
		"prov", e.Provider, "um", e.UpstreamModel, "prompt", e.Prompt,
		"body", e.Body, "f", flags,
		"pt", strconv.Itoa(e.PromptTokens), "ct", strconv.Itoa(e.CompletionTokens), "cost", cost,
		"cr", strconv.FormatInt(e.Created.UnixMilli(), 10), "ex", strconv.FormatInt(unixMilli(e.Expires), 10),
	}
	if f.embedder != "" && len(f.vec) > 0 {
		b := make([]byte, 0, 4*len(f.vec))
		for _, x := range f.vec {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
		}
		v = append(v, "emb", f.embedder, "vec", b)
	}
	return v
}

func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// decodeFill reads a stream entry's fields.
func decodeFill(vals map[string]any) (*fill, error) {
	s := func(k string) string { v, _ := vals[k].(string); return v }
	if s("v") != fillVersion {
		return nil, fmt.Errorf("cluster: fill of unknown version %q", s("v"))
	}
	switch s("t") {
	case opPut:
	case opDel:
		f := &fill{op: opDel, replica: s("r")}
		id := s("id")
		if len(id) != len(f.id) {
			return nil, errors.New("cluster: deletion with a bad id")
		}
		copy(f.id[:], id)
		return f, nil
	case opFlush:
		return &fill{op: opFlush, replica: s("r"), flush: Flush{Model: s("model"), Namespace: s("ns"), Tenant: s("tenant")}}, nil
	default:
		return nil, fmt.Errorf("cluster: fill of unknown type %q", s("t"))
	}
	e := &semcache.Entry{
		Kind: s("kind"), Model: s("model"), Namespace: s("ns"), Tenant: s("tenant"),
		Provider: s("prov"), UpstreamModel: s("um"), Prompt: s("prompt"), Body: []byte(s("body")),
	}
	id, part := s("id"), s("p")
	if len(id) != len(e.ID) || len(part) != len(e.Partition) {
		return nil, errors.New("cluster: fill with a bad id or partition")
	}
	copy(e.ID[:], id)
	copy(e.Partition[:], part)
	flags := s("f")
	e.Stream, e.Convertible, e.Semantic = strings.ContainsRune(flags, 's'), strings.ContainsRune(flags, 'c'), strings.ContainsRune(flags, 'w')
	var err1, err2, err3, err4 error
	e.PromptTokens, err1 = strconv.Atoi(s("pt"))
	e.CompletionTokens, err2 = strconv.Atoi(s("ct"))
	cr, err3 := strconv.ParseInt(s("cr"), 10, 64)
	ex, err4 := strconv.ParseInt(s("ex"), 10, 64)
	cost := s("cost")
	if err := errors.Join(err1, err2, err3, err4); err != nil || len(cost) != 8 {
		return nil, errors.New("cluster: fill with bad numbers")
	}
	e.CostUSD = math.Float64frombits(binary.BigEndian.Uint64([]byte(cost)))
	e.Created = time.UnixMilli(cr)
	if ex != 0 {
		e.Expires = time.UnixMilli(ex)
	}
	f := &fill{op: opPut, replica: s("r"), e: e, embedder: s("emb")}
	if vb := s("vec"); len(vb) > 0 && len(vb)%4 == 0 {
		f.vec = make([]float32, len(vb)/4)
		for i := range f.vec {
			f.vec[i] = math.Float32frombits(binary.LittleEndian.Uint32([]byte(vb[4*i:])))
		}
	}
	return f, nil
}

// PublishFill queues an entry this replica just stored (with the vector
// it was indexed by, nil if none) for the other replicas. It copies what
// it keeps and never blocks: while Redis is unreachable the fill waits in
// the outbox (at most outbox_size fills and 64 MiB; past that the oldest
// are dropped and counted).
func (c *Cluster) PublishFill(e *semcache.Entry, vec []float32) {
	if c.cache == nil {
		return
	}
	cp := *e
	cp.Body = append([]byte(nil), e.Body...)
	f := &fill{op: opPut, replica: c.replica, e: &cp}
	if e.Embedder != "" && len(vec) > 0 {
		f.embedder, f.vec = e.Embedder, append([]float32(nil), vec...)
	}
	f.size = len(cp.Body) + len(cp.Prompt) + 4*len(f.vec) + 256
	c.enqueue(f)
}

// PublishDelete queues, for the other replicas, the deletion of a cache
// entry this replica just deleted (through the admin API): each deletes
// it from its own cache, in order with the fills (a replica down
// meanwhile deletes it when it catches up).
func (c *Cluster) PublishDelete(id semcache.ID) {
	if c.cache != nil {
		c.enqueue(&fill{op: opDel, replica: c.replica, id: id, size: 64})
	}
}

// PublishFlush queues, for the other replicas, a flush this replica just
// made: each removes the entries it selects from its own cache.
func (c *Cluster) PublishFlush(fl Flush) {
	if c.cache != nil {
		c.enqueue(&fill{op: opFlush, replica: c.replica, flush: fl, size: 64 + len(fl.Model) + len(fl.Namespace) + len(fl.Tenant)})
	}
}

// enqueue adds f to the outbox, dropping the oldest past its bounds, and
// wakes the publisher.
func (c *Cluster) enqueue(f *fill) {
	c.omu.Lock()
	c.fillOut = append(c.fillOut, f)
	c.fillBytes += f.size
	dropped := 0
	for len(c.fillOut) > 1 && (len(c.fillOut) > c.o.outboxSize() || c.fillBytes > maxOutboxBytes) {
		c.fillBytes -= c.fillOut[0].size
		c.fillOut[0] = nil
		c.fillOut = c.fillOut[1:]
		dropped++
	}
	c.omu.Unlock()
	if dropped > 0 {
		c.m.fillsDropped.Add(dropped)
	}
	c.wake()
}

// pending is the number of fills waiting in the outbox.
func (c *Cluster) pending() int {
	c.omu.Lock()
	defer c.omu.Unlock()
	return len(c.fillOut)
}

// publisher writes queued key changes and fills while Redis is up.
func (c *Cluster) publisher() {
	defer c.wg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.kick:
		case <-t.C:
		}
		if c.up.Load() {
			c.publishPending(c.ctx)
		}
	}
}

// publishPending writes the queued key changes, then the fills in order,
// in pipelines of up to 64; what fails stays queued, and the failure
// marks Redis unreachable.
func (c *Cluster) publishPending(ctx context.Context) {
	if err := c.publishKeys(ctx); err != nil {
		c.Fail(err)
		return
	}
	for ctx.Err() == nil {
		c.omu.Lock()
		n := min(len(c.fillOut), 64)
		batch := append([]*fill(nil), c.fillOut[:n]...)
		c.omu.Unlock()
		if n == 0 {
			return
		}
		cmds, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, f := range batch {
				p.XAdd(ctx, &redis.XAddArgs{Stream: c.fillStream, MaxLen: c.o.streamMaxLen(), Approx: true, Values: f.values()})
			}
			return nil
		})
		done := 0
		for _, cmd := range cmds {
			if cmd.Err() != nil {
				break
			}
			done++
		}
		c.omu.Lock()
		// Only this goroutine (or Close, after it) removes from the front;
		// PublishFill may have dropped some of the batch meanwhile.
		for _, f := range batch[:done] {
			if len(c.fillOut) > 0 && c.fillOut[0] == f {
				c.fillBytes -= f.size
				c.fillOut[0] = nil
				c.fillOut = c.fillOut[1:]
			}
		}
		c.omu.Unlock()
		c.m.fillsPub.Add(done)
		if err != nil {
			c.Fail(err)
			return
		}
	}
}

// reader applies the other replicas' fills from the stream, from the
// last id this replica applied (kept in its store), or from the start of
// the stream on its first run.
func (c *Cluster) reader() {
	defer c.wg.Done()
	last := "0"
	if v, err := c.kv.Get(kvStream); err == nil && len(v) > 0 {
		last = string(v)
	}
	checked := false // the gap check, after each (re)connection
	for c.ctx.Err() == nil {
		if !checked {
			if err := c.checkGap(last); err != nil {
				if !c.sleep(retryDelay) {
					return
				}
				continue
			}
			checked = true
		}
		res, err := c.rdb.XRead(c.ctx, &redis.XReadArgs{Streams: []string{c.fillStream, last}, Count: readCount, Block: readBlock}).Result()
		if errors.Is(err, redis.Nil) {
			continue // nothing new within the block time
		}
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			c.Fail(err)
			checked = false
			if !c.sleep(retryDelay) {
				return
			}
			continue
		}
		for _, st := range res {
			if len(st.Messages) == 0 {
				continue
			}
			c.applyFills(st.Messages)
			last = st.Messages[len(st.Messages)-1].ID
			if err := c.kv.Set(kvStream, []byte(last)); err != nil {
				c.log.Warn("cluster: saving the stream position failed", "error", err)
			}
		}
	}
}

// checkGap warns when the stream was trimmed past this replica's
// position: its oldest entry is newer than the last one the replica
// applied, so fills in between may be lost to it (it was down while more
// than stream_max_len fills were made, or Redis lost the stream).
func (c *Cluster) checkGap(last string) error {
	if last == "0" {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.ctx, pingTimeout)
	defer cancel()
	info, err := c.rdb.XInfoStream(ctx, c.fillStream).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return nil
		}
		return err
	}
	if first := info.FirstEntry.ID; first != "" && compareIDs(first, last) > 0 {
		c.m.gaps.Inc()
		c.log.Warn("cluster: the fill stream no longer holds this replica's position (trimmed past stream_max_len, or Redis lost it); fills made meanwhile may be missing here",
			"position", last, "oldest_in_stream", first, "stream_max_len", c.o.streamMaxLen())
	}
	return nil
}

// compareIDs compares two stream ids "ms-seq".
func compareIDs(a, b string) int {
	pa, pb := parseID(a), parseID(b)
	switch {
	case pa[0] != pb[0]:
		return cmpU(pa[0], pb[0])
	default:
		return cmpU(pa[1], pb[1])
	}
}

func parseID(s string) [2]uint64 {
	ms, seq, _ := strings.Cut(s, "-")
	a, _ := strconv.ParseUint(ms, 10, 64)
	b, _ := strconv.ParseUint(seq, 10, 64)
	return [2]uint64{a, b}
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// embedTimeout bounds computing the vectors of one batch of fills.
const embedTimeout = 30 * time.Second

// applyFills stores the other replicas' fills in this replica's cache:
// expired ones and ones it already has as recent are skipped; a semantic
// entry gets the sender's vector when the embedders match, else one
// computed here (none if that fails: the exact tier and the word channel
// still find it).
func (c *Cluster) applyFills(msgs []redis.XMessage) {
	now := time.Now()
	var fs []*fill
	for _, m := range msgs {
		f, err := decodeFill(m.Values)
		if err != nil {
			c.m.fillsBad.Inc()
			c.log.Warn("cluster: skipping an unreadable fill", "id", m.ID, "error", err)
			continue
		}
		if f.replica == c.replica {
			continue
		}
		if f.op != opPut {
			// Fills before it in this batch first, then the deletion.
			c.storeFills(fs)
			fs = fs[:0]
			c.applyRemoval(f)
			continue
		}
		if !f.e.Expires.IsZero() && !f.e.Expires.After(now) {
			continue
		}
		if have, err := c.cache.GetExact(f.e.ID, 0); err == nil && !have.Created.Before(f.e.Created) {
			continue
		}
		fs = append(fs, f)
	}
	c.storeFills(fs)
}

// applyRemoval applies another replica's deletion or flush.
func (c *Cluster) applyRemoval(f *fill) {
	var err error
	if f.op == opDel {
		if err = c.cache.Delete(f.id); errors.Is(err, semcache.ErrNotFound) {
			err = nil
		}
	} else {
		fl := semcache.Filter{Model: f.flush.Model, Namespace: f.flush.Namespace}
		if t := f.flush.Tenant; t != "" {
			fl.Tenant = c.tenantFilter(t)
		}
		var n int
		n, err = c.cache.FlushWhere(fl)
		if err == nil {
			c.log.Info("cluster: flushed cache entries as another replica did", "replica", f.replica, "entries", n,
				"model", f.flush.Model, "namespace", f.flush.Namespace, "tenant", f.flush.Tenant)
		}
	}
	if err != nil {
		if c.ctx.Err() == nil {
			c.log.Warn("cluster: applying another replica's cache "+f.op+" failed", "error", err)
		}
		return
	}
	c.m.removalsApplied.Inc()
}

// storeFills stores fills of other replicas in this replica's cache.
func (c *Cluster) storeFills(fs []*fill) {
	if len(fs) == 0 {
		return
	}
	// Vectors: the sender's when it used this replica's embedder.
	local := c.cache.EmbedderID()
	var texts []string
	var need []*fill
	for _, f := range fs {
		switch {
		case local == "" || !f.e.Semantic:
			f.vec = nil
		case f.embedder == local && len(f.vec) > 0:
		default:
			f.vec = nil
			if c.emb != nil {
				if n := semcache.Normalize(f.e.Prompt); n != "" {
					texts, need = append(texts, n), append(need, f)
				}
			}
		}
	}
	if len(texts) > 0 {
		ctx, cancel := context.WithTimeout(c.ctx, embedTimeout)
		vecs, err := c.emb.Embed(ctx, texts)
		cancel()
		if err == nil && len(vecs) == len(need) {
			for i, f := range need {
				f.vec = vecs[i]
			}
		} else if c.ctx.Err() == nil {
			c.log.Warn("cluster: embedding replicated fills failed; stored without vectors", "fills", len(need), "error", err)
		}
	}
	for _, f := range fs {
		if err := c.cache.Put(f.e, f.vec); err != nil {
			if c.ctx.Err() == nil {
				c.log.Warn("cluster: storing a replicated fill failed", "error", err)
			}
			continue
		}
		c.m.fillsApplied.Inc()
	}
}
