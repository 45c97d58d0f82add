package tokens_test

import (
	"sync"
	"testing"

	"github.com/semgate/semgate/providers/tokens"
)

// TestCountConcurrent runs the shared encoders from many goroutines (for
// -race): encoders are built once and used concurrently.
func TestCountConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				if n := tokens.Count("claude-haiku-4-5", "hello world"); n != 2 {
					t.Errorf("count %d", n)
					return
				}
			}
		}()
	}
	wg.Wait()
}
