package cluster

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/semgate/semgate/gateway/auth"
)

// Keys in Redis: the hash <prefix>:keys maps the hex SHA-256 of each
// key's secret to the key's JSON; each change is also published on
// <prefix>:keys:changes as the hex hash, a space and the JSON.

// keyTimeout bounds one key write or resync.
const keyTimeout = 5 * time.Second

// enqueueKey is the key store's OnChange hook: it queues the change for
// the publisher (a later change of the same key replaces it).
func (c *Cluster) enqueueKey(r auth.Record) {
	c.omu.Lock()
	c.keyOut[r.Hash] = r
	c.omu.Unlock()
	c.wake()
}

// writeKey merges r into the Redis hash, unless Redis has the same key
// or a newer one (auth.Supersedes), and publishes it, in one
// transaction under WATCH.
func (c *Cluster) writeKey(ctx context.Context, r auth.Record) error {
	field := hex.EncodeToString(r.Hash[:])
	msg := make([]byte, 0, len(field)+1+len(r.JSON))
	msg = append(append(append(msg, field...), ' '), r.JSON...)
	var err error
	for range 5 {
		err = c.rdb.Watch(ctx, func(tx *redis.Tx) error {
			cur, err := tx.HGet(ctx, c.keysHash, field).Bytes()
			switch {
			case errors.Is(err, redis.Nil):
			case err != nil:
				return err
			case !auth.Supersedes(r, auth.Record{Hash: r.Hash, JSON: cur}):
				return nil
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.HSet(ctx, c.keysHash, field, r.JSON)
				p.Publish(ctx, c.keysChannel, msg)
				return nil
			})
			return err
		}, c.keysHash)
		if !errors.Is(err, redis.TxFailedErr) {
			break
		}
	}
	if err == nil {
		c.m.keysPublished.Inc()
	}
	return err
}

// publishKeys writes the queued key changes; on failure the rest stay
// queued (unless a newer change of the same key came meanwhile).
func (c *Cluster) publishKeys(ctx context.Context) error {
	c.omu.Lock()
	if len(c.keyOut) == 0 {
		c.omu.Unlock()
		return nil
	}
	batch := c.keyOut
	c.keyOut = map[[32]byte]auth.Record{}
	c.omu.Unlock()
	var err error
	for h, r := range batch {
		if err == nil {
			err = c.writeKey(ctx, r)
			if err == nil {
				continue
			}
		}
		c.omu.Lock()
		if _, newer := c.keyOut[h]; !newer {
			c.keyOut[h] = r
		}
		c.omu.Unlock()
	}
	return err
}

// resyncKeys reloads every key from Redis into the key store, and writes
// back the keys this replica has that Redis lacks or has older.
func (c *Cluster) resyncKeys() error {
	if c.keys == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(c.ctx, keyTimeout)
	defer cancel()
	remote, err := c.rdb.HGetAll(ctx, c.keysHash).Result()
	if err != nil {
		return err
	}
	c.m.resyncs.Inc()
	byHash := make(map[[32]byte][]byte, len(remote))
	recs := make([]auth.Record, 0, len(remote))
	for field, js := range remote {
		var r auth.Record
		if n, err := hex.Decode(r.Hash[:], []byte(field)); err != nil || n != len(r.Hash) || len(field) != 2*len(r.Hash) {
			c.m.keysBad.Inc()
			continue
		}
		r.JSON = []byte(js)
		byHash[r.Hash] = r.JSON
		recs = append(recs, r)
	}
	local := c.keys.Records()
	if err := c.applyKeys(recs); err != nil {
		return err
	}
	for _, r := range local {
		if cur, ok := byHash[r.Hash]; ok && !auth.Supersedes(r, auth.Record{Hash: r.Hash, JSON: cur}) {
			continue
		}
		if err := c.writeKey(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// applyKeys merges records from Redis into the key store.
func (c *Cluster) applyKeys(recs []auth.Record) error {
	if len(recs) == 0 {
		return nil
	}
	n, bad, err := c.keys.Apply(recs)
	c.m.keysApplied.Add(n)
	c.m.keysBad.Add(bad)
	if err != nil {
		c.log.Error("cluster: storing replicated keys failed", "error", err)
	}
	return err
}

// subscriber applies the key changes published by every replica. Each
// (re)subscription asks for a resync, for what was published while it
// was not listening.
func (c *Cluster) subscriber() {
	defer c.wg.Done()
	if c.keys == nil {
		return
	}
	subscribed := false
	for c.ctx.Err() == nil {
		if !subscribed {
			if err := c.ps.Subscribe(c.ctx, c.keysChannel); err != nil {
				if !c.sleep(retryDelay) {
					return
				}
				continue
			}
			subscribed = true
		}
		v, err := c.ps.Receive(c.ctx)
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			// The connection broke: go-redis reconnects and resubscribes
			// on the next Receive.
			if !c.sleep(retryDelay) {
				return
			}
			continue
		}
		switch m := v.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				c.askResync()
			}
		case *redis.Message:
			c.applyMessage(m.Payload)
		}
	}
}

// applyMessage applies one published key change: "<hex hash> <JSON>".
func (c *Cluster) applyMessage(p string) {
	var r auth.Record
	if len(p) < 2*len(r.Hash)+1 || p[2*len(r.Hash)] != ' ' {
		c.m.keysBad.Inc()
		return
	}
	if _, err := hex.Decode(r.Hash[:], []byte(p[:2*len(r.Hash)])); err != nil {
		c.m.keysBad.Inc()
		return
	}
	r.JSON = []byte(p[2*len(r.Hash)+1:])
	c.applyKeys([]auth.Record{r})
}
