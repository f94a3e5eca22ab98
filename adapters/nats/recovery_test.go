package nats

import (
	"strconv"
	"testing"
	"time"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/adaptertest"
)

// TestRecoveryOverNATS: three hubs on JetStream; a client reconnects to
// another node with its cursor and gets exactly what it missed (see
// adaptertest.RunRecovery).
func TestRecoveryOverNATS(t *testing.T) {
	prefix := testPrefix()
	dropKitStreams(t, prefix)
	adaptertest.RunRecovery(t, func(t *testing.T) core.Adapter { return newAdapter(t, connect(t, sharedURL), prefix) })
}

// TestRecoveryRaceOverNATS drives replay against live traffic (see
// adaptertest.RunRecoveryRace).
func TestRecoveryRaceOverNATS(t *testing.T) {
	prefix := testPrefix()
	dropKitStreams(t, prefix)
	adaptertest.RunRecoveryRace(t, 40, func(t *testing.T) core.Adapter { return newAdapter(t, connect(t, sharedURL), prefix) })
}

// TestGapFilledOverNATS: bus messages a node missed are read from the
// stream and delivered in order (see adaptertest.RunGapFill).
func TestGapFilledOverNATS(t *testing.T) {
	prefix := testPrefix()
	dropKitStreams(t, prefix)
	adaptertest.RunGapFill(t, func(t *testing.T) core.Adapter { return newAdapter(t, connect(t, sharedURL), prefix) })
}

// TestRecoveryAfterNATSRestart: a private nats-server with JetStream file
// storage is killed and started again; clients recover across it (see
// adaptertest.RunRecoveryAcrossRestart).
func TestRecoveryAfterNATSRestart(t *testing.T) {
	srv := newNATSServer(t)
	srv.args = []string{"-js", "-sd", t.TempDir()}
	srv.start(t)
	prefix := testPrefix()
	adaptertest.RunRecoveryAcrossRestart(t, natsBroker{srv}, true, func(t *testing.T) core.Adapter {
		return newAdapter(t, connect(t, srv.url(), faultConnOptions()...), prefix)
	})
}

// BenchmarkRecoveryStampede: 1,000 clients reconnect at once after 1,000
// missed messages, history in JetStream (see
// adaptertest.BenchRecoveryStampede).
func BenchmarkRecoveryStampede(b *testing.B) {
	prefix := testPrefix()
	dropKitStreams(b, prefix)
	adaptertest.BenchRecoveryStampede(b, 1000, 1000, func(tb testing.TB) core.Adapter { return newAdapter(tb, connect(tb, sharedURL), prefix) })
}

// dropKitStreams deletes, when the test ends, the streams that the kit's
// rooms (adaptertest.HistoryRooms) create under prefix on the shared
// server. Registered before the hubs start, it runs after they stopped.
func dropKitStreams(t testing.TB, prefix string) {
	t.Helper()
	a := newAdapter(t, connect(t, sharedURL), prefix)
	dropStreams(t, a, core.History{Size: 1000, TTL: time.Hour}, core.History{Size: 10, TTL: time.Hour})
}

// BenchmarkRoomPublish compares a plain room with a history room, end to
// end between two hubs over NATS and JetStream (see
// adaptertest.BenchRoomPublish).
func BenchmarkRoomPublish(b *testing.B) {
	for _, c := range benchRoomCases {
		history, window := c.history, c.window
		b.Run("history="+strconv.FormatBool(history)+"/window="+strconv.Itoa(window), func(b *testing.B) {
			prefix := testPrefix()
			dropKitStreams(b, prefix)
			adaptertest.BenchRoomPublish(b, history, window, func(tb testing.TB) core.Adapter { return newAdapter(tb, connect(tb, sharedURL), prefix) })
		})
	}
}

// benchRoomCases: one message at a time (latency) and 64 in flight
// (throughput), each for a plain and a history room.
var benchRoomCases = []struct {
	history bool
	window  int
}{{false, 1}, {true, 1}, {false, 64}, {true, 64}}
