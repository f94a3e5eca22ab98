package redis

import (
	"strconv"
	"testing"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// TestRecoveryAfterRedisRestartedEmpty: a private redis-server restarted
// without data starts new epochs, and a client with an old cursor is told
// (see wshubtest.RunRecoveryAcrossRestart).
func TestRecoveryAfterRedisRestartedEmpty(t *testing.T) {
	srv := newRedisServer(t)
	srv.start()
	prefix := uniquePrefix(t)
	wshubtest.RunRecoveryAcrossRestart(t, redisBroker{srv}, false, func(t *testing.T) core.Adapter {
		return newAdapter(t, srv.addr(), prefix)
	})
}

// BenchmarkRecoveryStampede: 1,000 clients reconnect at once after 1,000
// missed messages, history in Redis (see wshubtest.BenchRecoveryStampede).
func BenchmarkRecoveryStampede(b *testing.B) {
	prefix := "bench-" + core.NewEpoch()
	wshubtest.BenchRecoveryStampede(b, 1000, 1000, func(tb testing.TB) core.Adapter { return newAdapter(tb, sharedAddr, prefix) })
}

// BenchmarkRoomPublish compares a plain room with a history room, end to
// end between two hubs over Redis (see wshubtest.BenchRoomPublish).
func BenchmarkRoomPublish(b *testing.B) {
	for _, c := range benchRoomCases {
		history, window := c.history, c.window
		b.Run("history="+strconv.FormatBool(history)+"/window="+strconv.Itoa(window), func(b *testing.B) {
			prefix := "bench-" + core.NewEpoch()
			wshubtest.BenchRoomPublish(b, history, window, func(tb testing.TB) core.Adapter { return newAdapter(tb, sharedAddr, prefix) })
		})
	}
}

// benchRoomCases: one message at a time (latency) and 64 in flight
// (throughput), each for a plain and a history room.
var benchRoomCases = []struct {
	history bool
	window  int
}{{false, 1}, {true, 1}, {false, 64}, {true, 64}}
