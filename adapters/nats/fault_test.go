package nats

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

const natsServerBin = "/usr/sbin/nats-server"

// natsServer is a nats-server process of this test, on a fixed port so it
// can be killed and started again at the same address.
type natsServer struct {
	port int
	args []string // added to the address flags
	cmd  *exec.Cmd
}

func newNATSServer(t *testing.T) *natsServer {
	t.Helper()
	if _, err := exec.LookPath(natsServerBin); err != nil {
		// CI installs it (.ci/run): there a missing binary is a failure.
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not installed: %v", natsServerBin, err)
		}
		t.Skipf("%s not installed", natsServerBin)
	}
	s := &natsServer{port: freePort(t)}
	t.Cleanup(func() { s.kill(t) })
	return s
}

// freePort returns a TCP port of the loopback interface that was free a
// moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	tcp, ok := l.Addr().(*net.TCPAddr)
	require.True(t, ok)
	require.NoError(t, l.Close())
	return tcp.Port
}

func (s *natsServer) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }
func (s *natsServer) url() string  { return "nats://" + s.addr() }

// start launches the server and waits until it accepts connections.
func (s *natsServer) start(t *testing.T) {
	t.Helper()
	require.Nil(t, s.cmd, "already running")
	s.cmd = exec.Command(natsServerBin, append([]string{"-a", "127.0.0.1", "-p", strconv.Itoa(s.port)}, s.args...)...)
	require.NoError(t, s.cmd.Start())
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", s.addr(), 100*time.Millisecond)
		if err != nil {
			return false
		}
		_ = c.Close()
		return true
	}, waitFor, 10*time.Millisecond, "nats-server did not start")
}

// kill stops the server abruptly (SIGKILL) and reaps it.
func (s *natsServer) kill(t *testing.T) {
	t.Helper()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill() // fails only if it already exited
	_ = s.cmd.Wait()         // reports the kill signal
	s.cmd = nil
}

// faultConnOptions are what an application that wants to survive broker
// outages would pass to nats.go.
func faultConnOptions() []natsgo.Option {
	return []natsgo.Option{
		natsgo.RetryOnFailedConnect(true),
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(50 * time.Millisecond),
		natsgo.ReconnectJitter(0, 0),
		natsgo.Timeout(500 * time.Millisecond),
	}
}

func TestBrokerFaults(t *testing.T) {
	srv := newNATSServer(t)
	prefix := testPrefix()
	ctx := context.Background()

	// The broker is absent when the nodes start.
	pub := newAdapter(t, connect(t, srv.url(), faultConnOptions()...), prefix)
	sub := newAdapter(t, connect(t, srv.url(), faultConnOptions()...), prefix)
	var errs errorLog
	sub.SetErrorReporter(errs.report)
	const room, lateRoom = "fault.room *", "declared while down"
	sub.SetRoomInterest(room, true)
	got := subscribe(t, sub)
	require.ErrorIs(t, sub.CheckHealth(ctx), ErrNotConnected)
	require.ErrorIs(t, pub.Publish(ctx, core.AdapterMessage{Type: core.AdapterBroadcast, Data: []byte("stale")}), ErrNotConnected,
		"refused while (re)connecting, not left in nats.go's buffer to be replayed late")
	assert.False(t, pub.Connected())

	// flows publishes a new round (a broadcast and one message per room)
	// and reports whether some round, this one or an earlier, arrived whole.
	var rounds [][]string
	flows := func(rooms ...string) bool {
		tags := []string{fmt.Sprint("b", len(rounds))}
		_ = pub.Publish(ctx, core.AdapterMessage{Type: core.AdapterBroadcast, Data: []byte(tags[0])})
		for _, r := range rooms {
			tag := fmt.Sprint(r, len(rounds))
			tags = append(tags, tag)
			_ = pub.Publish(ctx, core.AdapterMessage{Type: core.AdapterRoom, Room: r, Data: []byte(tag)})
		}
		rounds = append(rounds, tags)
		for _, round := range rounds {
			whole := true
			for _, tag := range round {
				whole = whole && got.has(withData(tag))
			}
			if whole {
				rounds = rounds[:0]
				return true
			}
		}
		return false
	}

	srv.start(t)
	waitHealthy(t, sub)
	require.Eventually(t, func() bool { return flows(room) }, waitFor, 20*time.Millisecond, "no delivery after the broker came up")

	// A stream of publishes runs while the broker goes down and back up.
	var (
		stream    sync.WaitGroup
		stopCh    = make(chan struct{})
		mu        sync.Mutex
		slowest   time.Duration
		published int
		failed    int
	)
	stream.Add(1)
	go func() {
		defer stream.Done()
		pace := time.NewTicker(2 * time.Millisecond)
		defer pace.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopCh:
				return
			case <-pace.C:
			}
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			start := time.Now()
			err := pub.Publish(pctx, core.AdapterMessage{Type: core.AdapterRoom, Room: room, Data: []byte(fmt.Sprint("s", i))})
			took := time.Since(start)
			cancel()
			mu.Lock()
			slowest = max(slowest, took)
			published++
			if err != nil {
				failed++
			}
			mu.Unlock()
		}
	}()
	var stopOnce sync.Once
	stopStream := func() {
		stopOnce.Do(func() { close(stopCh) })
		stream.Wait()
	}
	defer stopStream()
	require.Eventually(t, func() bool {
		return got.count(func(m core.AdapterMessage) bool { return len(m.Data) > 0 && m.Data[0] == 's' }) > 20
	},
		waitFor, tick, "stream not flowing")

	srv.kill(t)
	require.Eventually(t, func() bool {
		err := sub.CheckHealth(ctx)
		return errors.Is(err, ErrNotConnected)
	}, waitFor, tick, "CheckHealth still nil with the broker gone")
	require.Eventually(t, func() bool { return errors.Is(pub.CheckHealth(ctx), ErrNotConnected) }, waitFor, tick)
	// Interest declared during the outage must be applied once it is back.
	sub.SetRoomInterest(lateRoom, true)
	mu.Lock()
	before := published
	mu.Unlock()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return published > before+20
	}, waitFor, tick, "Publish stuck while the broker is down")

	srv.start(t)
	restarted := time.Now()
	require.Eventually(t, func() bool { return flows(room, lateRoom) }, waitFor, 20*time.Millisecond, "no delivery after restart")
	assert.Less(t, time.Since(restarted), 5*time.Second, "delivery took too long to resume")
	waitHealthy(t, sub)
	t.Logf("delivery resumed %v after restart", time.Since(restarted))

	stopStream()
	mu.Lock()
	defer mu.Unlock()
	assert.Less(t, slowest, 2*time.Second, "a Publish blocked")
	assert.False(t, got.has(withData("stale")), "a message refused during the outage arrived after it")
	t.Logf("stream: %d publishes, %d failed, slowest %v", published, failed, slowest)
}
