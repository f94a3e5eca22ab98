package redis

import (
	"testing"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/adaptertest"
)

// TestHubsAcrossRedis runs three hubs, each with its own Redis client, with
// real WebSocket clients (see adaptertest.RunHubs).
func TestHubsAcrossRedis(t *testing.T) {
	prefix := uniquePrefix(t)
	adaptertest.RunHubs(t, func(t *testing.T) core.Adapter {
		return newAdapter(t, sharedAddr, prefix) // Shutdown closes it too
	})
}

func TestPresenceOverRedis(t *testing.T) {
	prefix := uniquePrefix(t)
	adaptertest.RunPresence(t, func(t *testing.T) core.Adapter {
		return newAdapter(t, sharedAddr, prefix)
	})
}

// redisBroker adapts redisServer to adaptertest.Broker.
type redisBroker struct{ s *redisServer }

func (b redisBroker) Kill(*testing.T)  { b.s.stop() }
func (b redisBroker) Start(*testing.T) { b.s.start() }

func TestHubsSurviveBrokerRestart(t *testing.T) {
	srv := newRedisServer(t)
	srv.start()
	prefix := uniquePrefix(t)
	adaptertest.RunHubFault(t, redisBroker{srv}, func(t *testing.T) core.Adapter {
		return newAdapter(t, srv.addr(), prefix)
	})
}

// TestJoinRaceOverRedis: an answer to a message sent right after a join
// reaches the new member, a thousand times out of a thousand.
func TestJoinRaceOverRedis(t *testing.T) {
	prefix := uniquePrefix(t)
	adaptertest.RunJoinRace(t, 1000, func(t *testing.T) core.Adapter {
		return newAdapter(t, sharedAddr, prefix)
	})
}

// TestBrokerRestartsAccounting kills and restarts a private redis-server
// five times under load (see adaptertest.RunBrokerRestarts).
func TestBrokerRestartsAccounting(t *testing.T) {
	srv := newRedisServer(t)
	srv.start()
	prefix := uniquePrefix(t)
	adaptertest.RunBrokerRestarts(t, adaptertest.RestartSpecFromEnv(), redisBroker{srv}, func(t *testing.T) core.Adapter {
		return newAdapter(t, srv.addr(), prefix)
	})
}
