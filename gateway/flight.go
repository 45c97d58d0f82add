package gateway

import (
	"context"
	"sync"

	"github.com/semgate/semgate/semcache"
)

// flights coalesces concurrent identical cache misses: the first request
// for a key (the leader) goes upstream; the others wait until it is done
// and then look the key up again, so N identical requests arriving together
// cost one upstream call when the answer is cacheable. If the leader's
// answer was not stored (an error, a truncated stream, no-store), each
// waiter goes upstream itself.
type flights struct {
	mu sync.Mutex
	m  map[semcache.ID]chan struct{}
}

// join returns leader=true and a release func for the first caller of a
// key; later callers get leader=false and a channel closed on release.
func (f *flights) join(id semcache.ID) (leader bool, done <-chan struct{}, release func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if ch, ok := f.m[id]; ok {
		return false, ch, nil
	}
	if f.m == nil {
		f.m = make(map[semcache.ID]chan struct{})
	}
	ch := make(chan struct{})
	f.m[id] = ch
	return true, ch, func() {
		f.mu.Lock()
		delete(f.m, id)
		f.mu.Unlock()
		close(ch)
	}
}

// wait blocks until done is closed or ctx ends.
func wait(ctx context.Context, done <-chan struct{}) error {
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
