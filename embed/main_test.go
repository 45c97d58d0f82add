package embed_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// package starts none, and the openai tests close their servers and
// connections.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
