package redis

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr, ok := l.Addr().(*net.TCPAddr)
	require.True(t, ok)
	require.NoError(t, l.Close())
	return addr.Port
}

// redisServer is a redis-server process of this test, on its own port.
type redisServer struct {
	t    *testing.T
	port int
	cmd  *exec.Cmd
}

func newRedisServer(t *testing.T) *redisServer {
	s := &redisServer{t: t, port: freePort(t)}
	t.Cleanup(s.stop)
	return s
}

func (s *redisServer) addr() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// start launches the server and waits until it answers PING.
func (s *redisServer) start() {
	s.t.Helper()
	s.cmd = exec.Command("/usr/bin/redis-server",
		"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	require.NoError(s.t, s.cmd.Start())
	require.Eventually(s.t, func() bool { return pingRaw(s.addr()) }, waitFor, 20*time.Millisecond,
		"redis-server on %s never answered", s.addr())
}

// stop kills the server, if running, and reaps it.
func (s *redisServer) stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait() // reports the kill
	s.cmd = nil
}

// pingRaw sends PING over a fresh connection, without go-redis.
func pingRaw(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "PING\r\n"); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && line == "+PONG\r\n"
}

// probeSeq numbers probes across calls, so a probe of an earlier phase of a
// test can never satisfy a later one.
var probeSeq atomic.Int64

// deliveredWithin publishes a fresh probe until in has received one or d has
// passed, and returns how long it took.
func deliveredWithin(t *testing.T, pub *Adapter, in *inbox, msg core.AdapterMessage, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last string
	require.Eventually(t, func() bool {
		if last != "" && in.has(last) {
			return true
		}
		m := msg
		last = fmt.Sprintf("%s-probe-%d", msg.Data, probeSeq.Add(1))
		m.Data = []byte(last)
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_ = pub.Publish(ctx, m) // fails while the broker is down; we retry
		return false
	}, d, 50*time.Millisecond, "no %s message delivered within %v", msg.Type, d)
	return time.Since(start)
}

// TestBrokerFaults drives two adapters through a Redis that is absent at
// start, then killed mid-stream, then restarted on the same port.
func TestBrokerFaults(t *testing.T) {
	srv := newRedisServer(t) // registered first: killed after the clients close
	prefix := uniquePrefix(t)
	var errsA, errsB errorLog
	a := newAdapter(t, srv.addr(), prefix)
	b := newAdapter(t, srv.addr(), prefix)
	a.SetErrorReporter(errsA.report)
	b.SetErrorReporter(errsB.report)
	var inA, inB inbox
	b.SetRoomInterest("r", true) // before Subscribe, while Redis is absent
	ctx := context.Background()
	require.NoError(t, a.Subscribe(core.WithRoomInterest(ctx), inA.handle))
	require.NoError(t, b.Subscribe(core.WithRoomInterest(ctx), inB.handle))
	a.SetRoomInterest("q", true) // after Subscribe, while Redis is absent

	// Absent at start: Subscribe returned at once, failures are reported,
	// the adapters are unhealthy.
	require.Eventually(t, func() bool { return errsA.count("subscribe") >= 2 }, waitFor, 10*time.Millisecond,
		"the initial subscribe is retried and each failure reported")
	require.ErrorIs(t, a.CheckHealth(ctx), ErrNotConnected)
	require.ErrorIs(t, b.CheckHealth(ctx), ErrNotConnected)

	room := func(r string) core.AdapterMessage {
		return core.AdapterMessage{NodeID: "x", Type: core.AdapterRoom, Room: r, MsgType: 1, Data: []byte(r)}
	}
	bcast := core.AdapterMessage{NodeID: "x", Type: core.AdapterBroadcast, MsgType: 1, Data: []byte("all")}

	// Started: messages flow, both ways, including room interests.
	srv.start()
	waitHealthy(t, a)
	waitHealthy(t, b)
	deliveredWithin(t, a, &inB, room("r"), waitFor)
	deliveredWithin(t, b, &inA, room("q"), waitFor)
	deliveredWithin(t, a, &inB, bcast, waitFor)

	// Killed mid-stream: health turns to an error, Publish fails within its
	// deadline, the receive failures are reported.
	beforeKill := errsB.count("subscribe")
	srv.stop()
	require.Eventually(t, func() bool { return a.CheckHealth(ctx) != nil && b.CheckHealth(ctx) != nil },
		waitFor, 10*time.Millisecond)
	err := b.CheckHealth(ctx)
	require.ErrorIs(t, err, ErrNotConnected)
	t.Logf("CheckHealth while Redis is down: %v", err)
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	start := time.Now()
	err = a.Publish(pctx, room("r"))
	cancel()
	require.Error(t, err)
	assert.Less(t, time.Since(start), 1500*time.Millisecond, "Publish is bounded by its context")
	bctx, cancel := context.WithTimeout(ctx, time.Second)
	require.Error(t, a.PublishBatch(bctx, []core.AdapterMessage{room("r"), bcast}))
	cancel()
	require.Eventually(t, func() bool { return errsB.count("subscribe") > beforeKill }, waitFor, 10*time.Millisecond)
	b.SetRoomInterest("z", true) // declared while Redis is down

	// Restarted on the same port: delivery resumes within 5s, with the room
	// channels, those declared during the outage too.
	srv.start()
	restarted := time.Now()
	for _, c := range []struct {
		pub *Adapter
		in  *inbox
		msg core.AdapterMessage
	}{
		{a, &inB, room("r")},
		{b, &inA, room("q")},
		{a, &inB, room("z")},
		{b, &inA, bcast},
	} {
		deliveredWithin(t, c.pub, c.in, c.msg, 5*time.Second-time.Since(restarted))
		t.Logf("%s %q delivered %v after the restarted server answered",
			c.msg.Type, c.msg.Room, time.Since(restarted).Round(time.Millisecond))
	}
	waitHealthy(t, a)
	waitHealthy(t, b)
}

// blackhole is a TCP proxy whose existing connections can be frozen: bytes
// are then read and discarded in both directions, as on a network path that
// died without either end closing the connection. Connections accepted after
// a freeze forward normally.
type blackhole struct {
	l        net.Listener
	upstream string
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []*proxied
}

type proxied struct {
	down, up net.Conn
	frozen   atomic.Bool
}

func newBlackhole(t *testing.T, upstream string) *blackhole {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &blackhole{l: l, upstream: upstream}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *blackhole) addr() string { return p.l.Addr().String() }

func (p *blackhole) accept() {
	defer p.wg.Done()
	for {
		down, err := p.l.Accept()
		if err != nil {
			return // listener closed
		}
		up, err := net.Dial("tcp", p.upstream)
		if err != nil {
			_ = down.Close()
			continue
		}
		c := &proxied{down: down, up: up}
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, down, up)
		go p.pipe(c, up, down)
	}
}

func (p *blackhole) pipe(c *proxied, src, dst net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !c.frozen.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			_ = dst.Close()
			return
		}
	}
}

// freeze makes every current connection a black hole.
func (p *blackhole) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.frozen.Store(true)
	}
}

func (p *blackhole) close() {
	_ = p.l.Close()
	p.mu.Lock()
	for _, c := range p.conns {
		_ = c.down.Close()
		_ = c.up.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestSilentLinkIsReplaced freezes the subscriber's connection without
// closing it. No read fails, so only the keeper's pings can notice: it must
// take the link down and move the subscription to a new connection.
func TestSilentLinkIsReplaced(t *testing.T) {
	t.Parallel()
	proxy := newBlackhole(t, sharedAddr)
	prefix := uniquePrefix(t)
	var errs errorLog
	sub := newAdapter(t, proxy.addr(), prefix, WithHealthTimeout(time.Second))
	sub.SetErrorReporter(errs.report)
	pub := newAdapter(t, sharedAddr, prefix)
	var in inbox
	sub.SetRoomInterest("r", true)
	require.NoError(t, sub.Subscribe(core.WithRoomInterest(context.Background()), in.handle))
	waitHealthy(t, sub)
	msg := core.AdapterMessage{NodeID: "p", Type: core.AdapterRoom, Room: "r", Data: []byte("r")}
	deliveredWithin(t, pub, &in, msg, waitFor)
	// An idle link that answers the keeper's pings stays up.
	require.Never(t, func() bool { return errs.count("subscribe") > 0 }, 3*time.Second, 50*time.Millisecond,
		"an idle but answering link was taken down")
	require.NoError(t, sub.CheckHealth(context.Background()))

	proxy.freeze()
	frozen := time.Now()
	require.Eventually(t, func() bool { return errs.count("subscribe") > 0 }, waitFor, 10*time.Millisecond,
		"a silent subscription is noticed")
	t.Logf("silent link noticed after %v: %v", time.Since(frozen).Round(time.Millisecond), errs.first())
	took := deliveredWithin(t, pub, &in, msg, waitFor)
	t.Logf("delivery resumed %v after the link was noticed", took.Round(time.Millisecond))
	waitHealthy(t, sub)
}

// When Redis refuses the subscription (a partition while the keeper
// replaces a silent link), the PubSub still records the room pattern along
// with the channels, and takes it up again once Redis answers.
func TestRoomPatternKeptWhenSubscribeFails(t *testing.T) {
	srv := newRedisServer(t) // not started yet: subscribing fails
	a := newAdapter(t, srv.addr(), uniquePrefix(t))
	ctx := context.Background()
	ps := a.client.Subscribe(ctx)
	defer func() { _ = ps.Close() }()
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	require.Error(t, a.subscribeBase(sctx, ps))
	cancel()

	srv.start()
	pub := newClient(t, srv.addr())
	require.Eventually(t, func() bool {
		_ = pub.Publish(ctx, a.roomChannel("r"), "x").Err()
		reply, err := ps.ReceiveTimeout(ctx, 100*time.Millisecond)
		m, ok := reply.(*goredis.Message)
		return err == nil && ok && m.Pattern == a.anyRoomPattern()
	}, waitFor, time.Millisecond)
}
