package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// sharedAddr is the Redis server the development and CI machines run.
const sharedAddr = "127.0.0.1:6379"

// waitFor is the generous deadline of conditions awaited in tests.
const waitFor = 10 * time.Second

// uniquePrefix returns a channel prefix no other test uses, so tests can
// share one Redis server.
func uniquePrefix(t testing.TB) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	return "wshubtest:" + name + ":" + hex.EncodeToString(b[:])
}

// newClient returns a client of addr that is closed when the test ends.
func newClient(t testing.TB, addr string) *goredis.Client {
	t.Helper()
	c := goredis.NewClient(&goredis.Options{
		Addr:                  addr,
		DialTimeout:           time.Second,
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// newAdapter returns an adapter with its own client of addr; both are closed
// when the test ends (the adapter first).
func newAdapter(t testing.TB, addr, prefix string, opts ...Option) *Adapter {
	t.Helper()
	c := newClient(t, addr)
	a, err := New(c, append([]Option{WithChannelPrefix(prefix)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// inbox collects the messages an adapter's handler receives.
type inbox struct {
	mu   sync.Mutex
	msgs []core.AdapterMessage
}

func (in *inbox) handle(m core.AdapterMessage) {
	in.mu.Lock()
	in.msgs = append(in.msgs, m)
	in.mu.Unlock()
}

func (in *inbox) all() []core.AdapterMessage {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]core.AdapterMessage(nil), in.msgs...)
}

// has reports whether a message with payload data arrived.
func (in *inbox) has(data string) bool {
	for _, m := range in.all() {
		if string(m.Data) == data {
			return true
		}
	}
	return false
}

// errorLog collects the errors an adapter reports.
type errorLog struct {
	mu   sync.Mutex
	errs []*core.AdapterError
}

func (l *errorLog) report(e *core.AdapterError) {
	l.mu.Lock()
	l.errs = append(l.errs, e)
	l.mu.Unlock()
}

func (l *errorLog) first() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return nil
	}
	return l.errs[0]
}

func (l *errorLog) ops() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	ops := make([]string, len(l.errs))
	for i, e := range l.errs {
		ops[i] = e.Op
	}
	return ops
}

func (l *errorLog) count(op string) int {
	n := 0
	for _, o := range l.ops() {
		if o == op {
			n++
		}
	}
	return n
}

// numSub returns how many subscribers channel has on the server of c.
func numSub(t testing.TB, c *goredis.Client, channel string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	m, err := c.PubSubNumSub(ctx, channel).Result()
	if err != nil {
		return -1
	}
	return m[channel]
}

// waitHealthy waits until a's subscription is live.
func waitHealthy(t testing.TB, a *Adapter) {
	t.Helper()
	require.Eventually(t, func() bool {
		return a.CheckHealth(context.Background()) == nil
	}, waitFor, 10*time.Millisecond, "adapter never became healthy")
}
