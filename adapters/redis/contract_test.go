package redis

import (
	"testing"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/adaptertest"
)

// TestContract runs the adapter conformance suite against the shared Redis,
// each call of the factory on a channel prefix of its own.
func TestContract(t *testing.T) {
	adaptertest.Run(t, func(t *testing.T, n int) []core.Adapter {
		prefix := uniquePrefix(t)
		as := make([]core.Adapter, n)
		for i := range as {
			as[i] = newAdapter(t, sharedAddr, prefix)
		}
		return as
	})
}
