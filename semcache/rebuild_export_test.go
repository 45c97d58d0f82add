package semcache

// Test helpers, for the external tests too.

// crash stops the cache's goroutines without writing snapshots, as a kill
// would (the store, closed by the caller, keeps what was committed).
func crash(c *Cache) {
	c.once.Do(func() {
		close(c.stop)
		<-c.done
		c.rb.wg.Wait()
	})
}

// Crash is crash for the external tests.
func Crash(c *Cache) { crash(c) }

// WithBuildHook makes the cache opened with cc call f before each step of
// a background graph build.
func WithBuildHook(cc *CacheConfig, f func(part ID)) { cc.hooks.build = f }

// PartitionLen returns the number of vectors the partition's index holds
// (-1: no index, or one that cannot tell).
func PartitionLen(c *Cache, part ID) int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if s, ok := c.parts[part].(Sizer); ok {
		return s.Len()
	}
	return -1
}
