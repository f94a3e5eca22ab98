package nats

import (
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/adaptertest"
)

// TestHubsOverNATS runs three hubs, each on its own NATS connection, with
// real WebSocket clients (see adaptertest.RunHubs).
func TestHubsOverNATS(t *testing.T) {
	prefix := testPrefix()
	adaptertest.RunHubs(t, func(t *testing.T) core.Adapter {
		return newAdapter(t, connect(t, sharedURL), prefix) // Shutdown closes it too
	})
}

func TestPresenceOverNATS(t *testing.T) {
	prefix := testPrefix()
	adaptertest.RunPresence(t, func(t *testing.T) core.Adapter {
		return newAdapter(t, connect(t, sharedURL), prefix)
	})
}

// natsBroker adapts natsServer to adaptertest.Broker.
type natsBroker struct{ s *natsServer }

func (b natsBroker) Kill(t *testing.T)  { b.s.kill(t) }
func (b natsBroker) Start(t *testing.T) { b.s.start(t) }

func TestHubsSurviveBrokerRestart(t *testing.T) {
	srv := newNATSServer(t)
	srv.start(t)
	prefix := testPrefix()
	adaptertest.RunHubFault(t, natsBroker{srv}, func(t *testing.T) core.Adapter {
		return newAdapter(t, connect(t, srv.url(), faultConnOptions()...), prefix)
	})
}

// TestJoinRaceOverNATS: an answer to a message sent right after a join
// reaches the new member, a thousand times out of a thousand.
func TestJoinRaceOverNATS(t *testing.T) {
	prefix := testPrefix()
	adaptertest.RunJoinRace(t, 1000, func(t *testing.T) core.Adapter {
		return newAdapter(t, connect(t, sharedURL), prefix)
	})
}

// TestBrokerRestartsAccounting kills and restarts a private nats-server
// five times under load (see adaptertest.RunBrokerRestarts).
func TestBrokerRestartsAccounting(t *testing.T) {
	srv := newNATSServer(t)
	srv.start(t)
	prefix := testPrefix()
	adaptertest.RunBrokerRestarts(t, adaptertest.RestartSpecFromEnv(), natsBroker{srv}, func(t *testing.T) core.Adapter {
		opts := append(ConnectOptions(), natsgo.RetryOnFailedConnect(true), natsgo.Timeout(500*time.Millisecond))
		return newAdapter(t, connect(t, srv.url(), opts...), prefix)
	})
}
