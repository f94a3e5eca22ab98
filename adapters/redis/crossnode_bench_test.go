package redis

import (
	"testing"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/adaptertest"
)

// BenchmarkCrossNode: hub A broadcasts, 1,000 WebSocket clients on hub B
// receive through the shared Redis server. Run with -benchtime=Nx (N
// messages).
func BenchmarkCrossNode(b *testing.B) {
	prefix := uniquePrefix(b)
	adaptertest.BenchCrossNode(b, func(tb testing.TB) core.Adapter {
		return newAdapter(tb, sharedAddr, prefix)
	}, 1000)
}
