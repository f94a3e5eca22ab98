package nats

import (
	"strconv"
	"testing"
	"time"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// TestRecoveryAfterNATSRestart: a private nats-server with JetStream file
// storage is killed and started again; clients recover across it (see
// wshubtest.RunRecoveryAcrossRestart).
func TestRecoveryAfterNATSRestart(t *testing.T) {
	srv := newNATSServer(t)
	srv.args = []string{"-js", "-sd", t.TempDir()}
	srv.start(t)
	prefix := testPrefix()
	wshubtest.RunRecoveryAcrossRestart(t, natsBroker{srv}, true, func(t *testing.T) core.Adapter {
		return newAdapter(t, connect(t, srv.url(), faultConnOptions()...), prefix)
	})
}

// BenchmarkRecoveryStampede: 1,000 clients reconnect at once after 1,000
// missed messages, history in JetStream (see
// wshubtest.BenchRecoveryStampede).
func BenchmarkRecoveryStampede(b *testing.B) {
	prefix := testPrefix()
	dropKitStreams(b, prefix)
	wshubtest.BenchRecoveryStampede(b, 1000, 1000, func(tb testing.TB) core.Adapter { return newAdapter(tb, connect(tb, sharedURL), prefix) })
}

// dropKitStreams deletes, when the test ends, the streams that the kit's
// rooms (wshubtest.HistoryRooms) create under prefix on the shared
// server. Registered before the hubs start, it runs after they stopped.
func dropKitStreams(t testing.TB, prefix string) {
	t.Helper()
	a := newAdapter(t, connect(t, sharedURL), prefix)
	dropStreams(t, a, core.History{Size: 1000, TTL: time.Hour}, core.History{Size: 10, TTL: time.Hour})
}

// BenchmarkRoomPublish compares a plain room with a history room, end to
// end between two hubs over NATS and JetStream (see
// wshubtest.BenchRoomPublish).
func BenchmarkRoomPublish(b *testing.B) {
	for _, c := range benchRoomCases {
		history, window := c.history, c.window
		b.Run("history="+strconv.FormatBool(history)+"/window="+strconv.Itoa(window), func(b *testing.B) {
			prefix := testPrefix()
			dropKitStreams(b, prefix)
			wshubtest.BenchRoomPublish(b, history, window, func(tb testing.TB) core.Adapter { return newAdapter(tb, connect(tb, sharedURL), prefix) })
		})
	}
}

// benchRoomCases: one message at a time (latency) and 64 in flight
// (throughput), each for a plain and a history room.
var benchRoomCases = []struct {
	history bool
	window  int
}{{false, 1}, {true, 1}, {false, 64}, {true, 64}}
