package nats

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// sharedURL is the NATS server the development and CI machines run.
const sharedURL = "nats://127.0.0.1:4222"

// waitFor is the deadline of conditions that involve the broker.
const waitFor = 10 * time.Second

const tick = 5 * time.Millisecond

// testPrefix returns a subject prefix no other test (or run) uses.
func testPrefix() string { return "wshubtest." + nuid.Next() }

// connect dials url and closes the connection when the test ends (after the
// adapters using it, since cleanups run last-in first-out).
func connect(t testing.TB, url string, opts ...natsgo.Option) *natsgo.Conn {
	t.Helper()
	nc, err := natsgo.Connect(url, opts...)
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	return nc
}

// newAdapter builds an adapter on nc and closes it when the test ends.
func newAdapter(t testing.TB, nc *natsgo.Conn, prefix string, opts ...Option) *Adapter {
	t.Helper()
	a, err := New(nc, append([]Option{WithSubjectPrefix(prefix)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	return a
}

// collector records the messages a handler receives.
type collector struct {
	mu   sync.Mutex
	msgs []core.AdapterMessage
}

func (c *collector) handle(m core.AdapterMessage) {
	c.mu.Lock()
	c.msgs = append(c.msgs, m)
	c.mu.Unlock()
}

func (c *collector) snapshot() []core.AdapterMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]core.AdapterMessage(nil), c.msgs...)
}

// has reports whether a message matching pred arrived.
func (c *collector) has(pred func(core.AdapterMessage) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.msgs {
		if pred(m) {
			return true
		}
	}
	return false
}

func (c *collector) count(pred func(core.AdapterMessage) bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.msgs {
		if pred(m) {
			n++
		}
	}
	return n
}

// subscribe starts a (with a context cancelled at test end) into a new
// collector.
func subscribe(t testing.TB, a *Adapter) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := &collector{}
	require.NoError(t, a.Subscribe(core.WithRoomInterest(ctx), c.handle))
	return c
}

// waitHealthy waits until a's CheckHealth passes: its base subscriptions
// are then known to the broker.
func waitHealthy(t testing.TB, a *Adapter) {
	t.Helper()
	var last error
	ok := assert.Eventually(t, func() bool {
		last = a.CheckHealth(context.Background())
		return last == nil
	}, waitFor, tick)
	require.True(t, ok, "adapter never became healthy: %v", last)
}

func withData(s string) func(core.AdapterMessage) bool {
	return func(m core.AdapterMessage) bool { return string(m.Data) == s }
}

// errorLog records reported adapter errors.
type errorLog struct {
	mu    sync.Mutex
	errs  []*core.AdapterError
	times []time.Time
}

func (l *errorLog) report(e *core.AdapterError) {
	l.mu.Lock()
	l.errs = append(l.errs, e)
	l.times = append(l.times, time.Now())
	l.mu.Unlock()
}

// timesOf returns when errors of op whose text contains substr arrived.
func (l *errorLog) timesOf(op, substr string) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []time.Time
	for i, e := range l.errs {
		if e.Op == op && strings.Contains(e.Error(), substr) {
			out = append(out, l.times[i])
		}
	}
	return out
}

func (l *errorLog) ops(op string) []*core.AdapterError {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []*core.AdapterError
	for _, e := range l.errs {
		if e.Op == op {
			out = append(out, e)
		}
	}
	return out
}
