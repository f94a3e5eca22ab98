package nats

import (
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// natsBroker adapts natsServer to wshubtest.Broker.
type natsBroker struct{ s *natsServer }

func (b natsBroker) Kill(t *testing.T)  { b.s.kill(t) }
func (b natsBroker) Start(t *testing.T) { b.s.start(t) }

func TestHubsSurviveBrokerRestart(t *testing.T) {
	srv := newNATSServer(t)
	srv.start(t)
	prefix := testPrefix()
	wshubtest.RunHubFault(t, natsBroker{srv}, func(t *testing.T) core.Adapter {
		return newAdapter(t, connect(t, srv.url(), faultConnOptions()...), prefix)
	})
}

// TestBrokerRestartsAccounting kills and restarts a private nats-server
// five times under load (see wshubtest.RunBrokerRestarts).
func TestBrokerRestartsAccounting(t *testing.T) {
	srv := newNATSServer(t)
	srv.start(t)
	prefix := testPrefix()
	wshubtest.RunBrokerRestarts(t, wshubtest.RestartSpecFromEnv(), natsBroker{srv}, func(t *testing.T) core.Adapter {
		opts := append(ConnectOptions(), natsgo.RetryOnFailedConnect(true), natsgo.Timeout(500*time.Millisecond))
		return newAdapter(t, connect(t, srv.url(), opts...), prefix)
	})
}
