package redis

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// redisBroker adapts redisServer to wshubtest.Broker.
type redisBroker struct{ s *redisServer }

func (b redisBroker) Kill(*testing.T)  { b.s.stop() }
func (b redisBroker) Start(*testing.T) { b.s.start() }

func TestHubsSurviveBrokerRestart(t *testing.T) {
	srv := newRedisServer(t)
	srv.start()
	prefix := uniquePrefix(t)
	wshubtest.RunHubFault(t, redisBroker{srv}, func(t *testing.T) core.Adapter {
		return newAdapter(t, srv.addr(), prefix)
	})
}

// TestBrokerRestartsAccounting kills and restarts a private redis-server
// five times under load (see wshubtest.RunBrokerRestarts).
func TestBrokerRestartsAccounting(t *testing.T) {
	srv := newRedisServer(t)
	srv.start()
	prefix := uniquePrefix(t)
	wshubtest.RunBrokerRestarts(t, wshubtest.RestartSpecFromEnv(), redisBroker{srv}, func(t *testing.T) core.Adapter {
		return newAdapter(t, srv.addr(), prefix)
	})
}

// TestShutdownFlushesOverRedis: what is still queued when the hub stops is
// published, not taken for an outage because the subscription stopped
// first.
func TestShutdownFlushesOverRedis(t *testing.T) {
	c := wshubtest.NewCounters()
	h := core.NewHub(core.WithAdapter(newAdapter(t, sharedAddr, uniquePrefix(t))), core.WithMetrics(c))
	go h.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, h.WaitRunning(ctx))
	const n = 8000
	for range n {
		h.BroadcastText("queued")
	}
	require.NoError(t, h.Shutdown(ctx))
	tr := c.Traffic()
	assert.Zero(t, tr.Dropped[core.DropLinkDown], "dropped as if Redis were down: %v", tr.Dropped)
	assert.Equal(t, int64(n), tr.Published+tr.DroppedTotal())
}
