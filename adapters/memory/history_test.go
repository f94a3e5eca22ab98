package memory_test

import (
	"strconv"
	"testing"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// BenchmarkRecoveryStampede: 1,000 clients reconnect at once after 1,000
// missed messages (see wshubtest.BenchRecoveryStampede).
func BenchmarkRecoveryStampede(b *testing.B) {
	bus := memory.NewBus()
	wshubtest.BenchRecoveryStampede(b, 1000, 1000, func(testing.TB) core.Adapter { return bus.NewAdapter() })
}

// BenchmarkRoomPublish compares a plain room with a history room, end to
// end between two hubs (see wshubtest.BenchRoomPublish).
func BenchmarkRoomPublish(b *testing.B) {
	for _, c := range benchRoomCases {
		history, window := c.history, c.window
		b.Run("history="+strconv.FormatBool(history)+"/window="+strconv.Itoa(window), func(b *testing.B) {
			bus := memory.NewBus()
			wshubtest.BenchRoomPublish(b, history, window, func(testing.TB) core.Adapter { return bus.NewAdapter() })
		})
	}
}

// benchRoomCases: one message at a time (latency) and 64 in flight
// (throughput), each for a plain and a history room.
var benchRoomCases = []struct {
	history bool
	window  int
}{{false, 1}, {true, 1}, {false, 64}, {true, 64}}
