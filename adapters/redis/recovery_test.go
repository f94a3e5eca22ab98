package redis

import (
	"testing"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/adaptertest"
)

// TestRecoveryOverRedis: three hubs on Redis Streams; a client reconnects
// to another node with its cursor and gets exactly what it missed (see
// adaptertest.RunRecovery).
func TestRecoveryOverRedis(t *testing.T) {
	prefix := uniquePrefix(t)
	adaptertest.RunRecovery(t, func(t *testing.T) core.Adapter { return newAdapter(t, sharedAddr, prefix) })
}

// TestRecoveryRaceOverRedis drives replay against live traffic (see
// adaptertest.RunRecoveryRace).
func TestRecoveryRaceOverRedis(t *testing.T) {
	prefix := uniquePrefix(t)
	adaptertest.RunRecoveryRace(t, 40, func(t *testing.T) core.Adapter { return newAdapter(t, sharedAddr, prefix) })
}

// TestGapFilledOverRedis: bus messages a node missed are read from the
// stream and delivered in order (see adaptertest.RunGapFill).
func TestGapFilledOverRedis(t *testing.T) {
	prefix := uniquePrefix(t)
	adaptertest.RunGapFill(t, func(t *testing.T) core.Adapter { return newAdapter(t, sharedAddr, prefix) })
}

// TestRecoveryAfterRedisRestartedEmpty: a private redis-server restarted
// without data starts new epochs, and a client with an old cursor is told
// (see adaptertest.RunRecoveryAcrossRestart).
func TestRecoveryAfterRedisRestartedEmpty(t *testing.T) {
	srv := newRedisServer(t)
	srv.start()
	prefix := uniquePrefix(t)
	adaptertest.RunRecoveryAcrossRestart(t, redisBroker{srv}, false, func(t *testing.T) core.Adapter {
		return newAdapter(t, srv.addr(), prefix)
	})
}

// BenchmarkRecoveryStampede: 1,000 clients reconnect at once after 1,000
// missed messages, history in Redis (see adaptertest.BenchRecoveryStampede).
func BenchmarkRecoveryStampede(b *testing.B) {
	prefix := "bench-" + core.NewEpoch()
	adaptertest.BenchRecoveryStampede(b, 1000, 1000, func(tb testing.TB) core.Adapter { return newAdapter(tb, sharedAddr, prefix) })
}
