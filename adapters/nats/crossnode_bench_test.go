package nats

import (
	"fmt"
	"testing"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// BenchmarkCrossNode: hub A broadcasts, 1,000 WebSocket clients on hub B
// receive through the shared NATS server. inflight=1 measures latency
// without queueing, inflight=64 the sustained rate. Run with
// -benchtime=Nx (N messages).
func BenchmarkCrossNode(b *testing.B) {
	for _, window := range []int{1, 64} {
		b.Run(fmt.Sprintf("clients=1000/inflight=%d", window), func(b *testing.B) {
			prefix := testPrefix()
			wshubtest.BenchCrossNode(b, func(tb testing.TB) core.Adapter {
				return newAdapter(tb, connect(tb, sharedURL), prefix)
			}, 1000, window)
		})
	}
}
