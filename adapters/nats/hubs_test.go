package nats

import (
	"testing"

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
