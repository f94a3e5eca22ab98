package core

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func textFrame(s string) *frame { return newFrame(TextMessage, []byte(s)) }

func TestSendQueueTakeBoundsTheBatch(t *testing.T) {
	tests := []struct {
		name      string
		give      []string
		maxN      int
		maxBytes  int64
		wantBatch int
	}{
		{name: "all fit", give: []string{"a", "b", "c"}, maxN: 8, maxBytes: 100, wantBatch: 3},
		{name: "count bound", give: []string{"a", "b", "c", "d", "e"}, maxN: 2, maxBytes: 100, wantBatch: 2},
		{name: "byte bound", give: []string{"aaaa", "bbbb", "cccc"}, maxN: 8, maxBytes: 6, wantBatch: 1},
		{name: "byte bound reached exactly", give: []string{"aaa", "bbb", "ccc"}, maxN: 8, maxBytes: 6, wantBatch: 2},
		{name: "one frame over the byte bound", give: []string{"aaaaaaaa", "b"}, maxN: 8, maxBytes: 4, wantBatch: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sendQueue
			var total int64
			for _, g := range tt.give {
				s.push(textFrame(g))
				total += int64(len(g))
			}
			batch, frames := s.take(tt.maxN, tt.maxBytes)
			require.Len(t, frames, tt.wantBatch)
			for i, f := range frames {
				assert.Equal(t, tt.give[i], string(f.data))
			}
			// What is being written still counts until it is written.
			assert.Equal(t, len(tt.give), s.count())
			assert.Equal(t, total, s.bytes())
			assert.Equal(t, len(tt.give)-tt.wantBatch, s.pending())
			putQueue(batch)
			s.written()
			assert.Equal(t, len(tt.give)-tt.wantBatch, s.count())
			rest := []string{}
			for s.pending() > 0 {
				rest = append(rest, string(s.popOldest().data))
			}
			assert.Equal(t, tt.give[tt.wantBatch:], rest)
			assert.Zero(t, s.bytes())
		})
	}
}

// smallBudget is a Config whose client queues hold 1000 bytes (and so
// messages of at most 1000 bytes inbound).
func smallBudget() Config { return DefaultConfig().WithMaxMessageSize(1000).WithMaxQueuedBytes(1000) }

func TestByteBudgetDropNewest(t *testing.T) {
	var dropped []int
	h := NewHub(WithConfig(smallBudget()), WithHooks(Hooks{
		OnSendDropped: func(_ *Client, d []byte) { dropped = append(dropped, len(d)) },
	}))
	c := stalledClient(t, h)
	msg := make([]byte, 600)
	require.NoError(t, c.SendBinary(msg))
	require.NoError(t, c.SendBinary(msg), "below the budget before it, so admitted")
	require.ErrorIs(t, c.SendBinary(msg), ErrSendBufferFull)
	require.ErrorIs(t, c.SendBinary([]byte("x")), ErrSendBufferFull, "the budget holds for small messages too")
	assert.Equal(t, []int{600, 1}, dropped)
	assert.Equal(t, 2, c.QueuedMessages())
	assert.Equal(t, int64(1200), c.QueuedBytes(), "at most the budget plus one message")
}

func TestByteBudgetDropOldest(t *testing.T) {
	var dropped []string
	h := NewHub(WithDropPolicy(DropOldest), WithConfig(smallBudget()), WithHooks(Hooks{
		OnSendDropped: func(_ *Client, d []byte) { dropped = append(dropped, string(d[:1])) },
	}))
	c := stalledClient(t, h)
	for _, s := range []string{"a", "b", "c", "d"} {
		require.NoError(t, c.SendText(strings.Repeat(s, 400)))
	}
	// c was admitted below the budget and took the queue to 1200 bytes; d
	// evicted a, which brought it below again.
	assert.Equal(t, []string{"a"}, dropped)
	assert.Equal(t, 3, c.QueuedMessages())
	assert.Equal(t, int64(1200), c.QueuedBytes())
}

func TestDisconnectSlowOnFullQueue(t *testing.T) {
	var (
		mu      sync.Mutex
		dropped []string
	)
	slow := make(chan *Client, 1)
	m := NewDebugMetrics()
	h := NewHub(WithDropPolicy(DisconnectSlow), WithMetrics(m), WithConfig(DefaultConfig().WithSendChannelSize(2)),
		WithHooks(Hooks{
			OnSendDropped: func(_ *Client, d []byte) { mu.Lock(); dropped = append(dropped, string(d)); mu.Unlock() },
			OnSlowClient:  func(c *Client) { slow <- c },
		}))
	c := stalledClient(t, h)
	require.NoError(t, c.SendText("1"))
	require.NoError(t, c.SendText("2"))
	require.ErrorIs(t, c.SendText("3"), ErrSendBufferFull)
	assert.True(t, c.IsClosed())
	require.ErrorIs(t, c.SendText("4"), ErrConnectionClosed)
	select {
	case got := <-slow:
		assert.Same(t, c, got)
	case <-time.After(5 * time.Second):
		t.Fatal("OnSlowClient did not run")
	}
	mu.Lock()
	assert.Equal(t, []string{"1", "2", "3"}, dropped, "the queued messages are dropped with the new one")
	mu.Unlock()
	assert.Zero(t, c.QueuedMessages())
	assert.Equal(t, int64(1), m.Stats().Errors["slow_client"])
	c.mu.Lock()
	assert.Equal(t, 1013, c.closeCode)
	assert.Equal(t, appendClose(nil, 1013, "slow client"), c.sq.closeFrame)
	c.mu.Unlock()
}

// A context send waits for the bytes of the batch being written, not only
// for a free slot.
func TestContextSendWaitsForBytes(t *testing.T) {
	h := NewHub(WithConfig(smallBudget()))
	c := stalledClient(t, h)
	require.NoError(t, c.SendBinary(make([]byte, 1000)))
	c.mu.Lock()
	batch, frames := c.sq.take(10, 1<<20) // the pump took it and is writing it
	c.mu.Unlock()
	require.Len(t, frames, 1)
	var sent atomic.Bool
	errc := make(chan error, 1)
	go func() {
		errc <- c.SendWithContext(context.Background(), []byte("next"))
		sent.Store(true)
	}()
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sq.spaceCh != nil
	}, 5*time.Second, time.Millisecond)
	assert.False(t, sent.Load(), "the bytes being written still count")
	c.mu.Lock()
	c.sq.written()
	c.mu.Unlock()
	putQueue(batch)
	require.NoError(t, <-errc)
	assert.Equal(t, 1, c.QueuedMessages())
}

func TestInvalidUTF8SendsRefused(t *testing.T) {
	bad := []byte("caf\xe9")
	m := NewDebugMetrics()
	h, srv := startHub(t, WithMetrics(m))
	conn, c := dialWait(t, h, srv)
	require.NoError(t, h.JoinRoom(c, "r"))

	require.ErrorIs(t, c.Send(bad), ErrInvalidUTF8)
	require.ErrorIs(t, c.SendText(string(bad)), ErrInvalidUTF8)
	require.ErrorIs(t, c.SendWithContext(context.Background(), bad), ErrInvalidUTF8)
	require.ErrorIs(t, h.BroadcastToRoom("r", bad), ErrInvalidUTF8)
	require.ErrorIs(t, h.BroadcastWithContext(context.Background(), bad), ErrInvalidUTF8)
	require.ErrorIs(t, h.SendToClient(c.ID, bad), ErrInvalidUTF8)
	require.ErrorIs(t, h.SendToClient("elsewhere", bad), ErrInvalidUTF8)
	h.Broadcast(bad)
	h.SendToUser("u", bad)
	// json.Marshal copies a RawMessage's bytes as they are.
	raw := map[string]any{"a": json.RawMessage("\"\xff\"")}
	require.ErrorIs(t, c.SendJSON(raw), ErrInvalidUTF8)
	require.ErrorIs(t, h.BroadcastJSON(raw), ErrInvalidUTF8)
	assert.Equal(t, int64(11), m.Stats().Errors["invalid_utf8_send"])

	// Binary may hold any bytes; the connection is intact.
	require.NoError(t, c.SendBinary(bad))
	require.NoError(t, c.SendText("ok"))
	typ, got := read(t, conn)
	assert.Equal(t, BinaryMessage, MessageType(typ))
	assert.Equal(t, string(bad), got)
	_, got = read(t, conn)
	assert.Equal(t, "ok", got)
}

// DropOldest never loses the newest message, also with SendChannelSize 1
// while a message is being written.
func TestDropOldestKeepsTheNewest(t *testing.T) {
	var dropped []string
	h, srv, gate := startGatedHub(t, WithDropPolicy(DropOldest), WithConfig(DefaultConfig().WithSendChannelSize(1)),
		WithHooks(Hooks{OnSendDropped: func(_ *Client, d []byte) { dropped = append(dropped, string(d)) }}))
	conn, c := dialWait(t, h, srv)
	gate.hold()
	require.NoError(t, c.SendText("1"))
	require.Eventually(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sq.flightN == 1
	}, 5*time.Second, time.Millisecond)
	for _, s := range []string{"2", "3", "4"} {
		require.NoError(t, c.SendText(s))
	}
	assert.Equal(t, []string{"2", "3"}, dropped)
	gate.open()
	_, got := read(t, conn)
	assert.Equal(t, "1", got)
	_, got = read(t, conn)
	assert.Equal(t, "4", got)
}

// Evictions while a write is blocked reuse the queue's array instead of
// growing it. The array comes from a pool that other tests' clients fill,
// so its capacity at the start is whatever was returned last: what must
// not change is that capacity once the queue is full.
func TestDropOldestQueueDoesNotGrow(t *testing.T) {
	h := NewHub(WithDropPolicy(DropOldest), WithConfig(DefaultConfig().WithSendChannelSize(8)))
	c := stalledClient(t, h)
	for range 8 {
		require.NoError(t, c.SendText("m"))
	}
	c.mu.Lock()
	full := cap(c.sq.q.s)
	c.mu.Unlock()
	for i := 0; i < 100_000; i++ {
		require.NoError(t, c.SendText("m"))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	assert.Equal(t, 8, c.sq.count())
	assert.Equal(t, full, cap(c.sq.q.s), "the array grew")
}

func TestSendQueueOfferPolicies(t *testing.T) {
	frames := func(ss ...string) []*frame {
		out := make([]*frame, len(ss))
		for i, s := range ss {
			out[i] = textFrame(s)
		}
		return out
	}
	names := func(fs []*frame) []string {
		out := []string{}
		for _, f := range fs {
			out = append(out, string(f.data))
		}
		return out
	}
	tests := []struct {
		name        string
		policy      DropPolicy
		maxN        int
		maxBytes    int64
		give        []string
		wantResults []offerResult
		wantEvicted []string
		wantQueued  []string
	}{
		{
			name: "drop newest keeps the oldest", policy: DropNewest, maxN: 2, maxBytes: 100,
			give:        []string{"1", "2", "3"},
			wantResults: []offerResult{offerQueued, offerQueued, offerDropped},
			wantEvicted: []string{}, wantQueued: []string{"1", "2"},
		},
		{
			name: "drop oldest keeps the newest", policy: DropOldest, maxN: 2, maxBytes: 100,
			give:        []string{"1", "2", "3", "4"},
			wantResults: []offerResult{offerQueued, offerQueued, offerQueued, offerQueued},
			wantEvicted: []string{"1", "2"}, wantQueued: []string{"3", "4"},
		},
		{
			name: "drop oldest evicts by bytes", policy: DropOldest, maxN: 10, maxBytes: 6,
			give:        []string{"aaa", "bbb", "cccccc"},
			wantResults: []offerResult{offerQueued, offerQueued, offerQueued},
			// Admitted while below the byte bound: bytes pass it by one message.
			wantEvicted: []string{"aaa"}, wantQueued: []string{"bbb", "cccccc"},
		},
		{
			name: "disconnect slow refuses and says so", policy: DisconnectSlow, maxN: 1, maxBytes: 100,
			give:        []string{"1", "2"},
			wantResults: []offerResult{offerQueued, offerSlow},
			wantEvicted: []string{}, wantQueued: []string{"1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := queueLimits{maxN: tt.maxN, maxBytes: tt.maxBytes, policy: tt.policy, batchN: 100, batchBytes: 100}
			var s sendQueue
			var evicted []*frame
			for i, f := range frames(tt.give...) {
				res, ev, start := s.offer(f, &l, evicted)
				evicted = ev
				assert.Equal(t, tt.wantResults[i], res, "offer %d", i)
				assert.Equal(t, i == 0, start, "only the first frame starts a pump")
			}
			assert.Equal(t, tt.wantEvicted, names(evicted))
			b := s.next(&l)
			assert.Equal(t, tt.wantQueued, names(b.frames))
			putQueue(b.q)
		})
	}
}

// The close frame waits for every pending data frame; owed pings and pongs
// go out with the next batch, one pong at most.
func TestSendQueueNextOrder(t *testing.T) {
	l := queueLimits{maxN: 10, maxBytes: 1 << 20, batchN: 2, batchBytes: 1 << 20}
	var s sendQueue
	for _, m := range []string{"a", "b", "c"} {
		s.push(textFrame(m))
	}
	assert.False(t, s.setPong([]byte("pong1")), "a pump was started by the first push")
	s.setPong([]byte("pong2"))
	s.setPing()
	s.setClose([]byte("close"))

	b := s.next(&l)
	require.Len(t, b.frames, 2)
	assert.True(t, b.ping)
	assert.Equal(t, "pong2", string(b.pong), "a newer pong replaces one not yet written")
	assert.Nil(t, b.closeFrame, "data frames are still pending")
	assert.Equal(t, 3, s.count(), "the batch in flight counts until written")
	putQueue(b.q)

	b = s.next(&l)
	require.Len(t, b.frames, 1)
	assert.Equal(t, "c", string(b.frames[0].data))
	assert.False(t, b.ping)
	assert.Nil(t, b.pong)
	assert.Equal(t, "close", string(b.closeFrame))
	assert.True(t, s.closeSent)
	putQueue(b.q)

	b = s.next(&l)
	assert.True(t, b.empty())
	assert.Zero(t, s.count())
	ch := s.waitStopped()
	require.NotNil(t, ch)
	s.stop(true)
	select {
	case <-ch:
	default:
		t.Fatal("stop did not wake the waiter")
	}
	assert.Nil(t, s.waitStopped(), "no pump runs")
	assert.True(t, s.idle(time.Now().UnixNano()))
}

func TestSendQueueReleaseAndWait(t *testing.T) {
	var s sendQueue
	s.push(textFrame("a"))
	s.setPing()
	ch := s.wait()
	s.release()
	select {
	case <-ch:
	default:
		t.Fatal("release did not wake those waiting for space")
	}
	b := s.next(&queueLimits{maxN: 1, maxBytes: 1, batchN: 1, batchBytes: 1})
	assert.True(t, b.empty(), "released frames and pings are gone")
}

// BenchmarkSendQueueOffer is one enqueue and its share of the pump's take
// in steady state: it must not allocate.
func BenchmarkSendQueueOffer(b *testing.B) {
	l := queueLimits{maxN: 256, maxBytes: 4 << 20, policy: DropNewest, batchN: 128, batchBytes: 2 << 20}
	f := newFrame(TextMessage, make([]byte, 128))
	var s sendQueue
	var buf [4]*frame
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if res, _, _ := s.offer(f, &l, buf[:0]); res != offerQueued {
			b.Fatal("offer refused")
		}
		if i%64 == 63 { // the pump takes and writes a batch
			bt := s.next(&l)
			putQueue(bt.q)
			s.written()
		}
	}
}

// BenchmarkSendQueueOfferDropOldest is an enqueue into a full queue that
// evicts: no allocation either.
func BenchmarkSendQueueOfferDropOldest(b *testing.B) {
	l := queueLimits{maxN: 64, maxBytes: 4 << 20, policy: DropOldest, batchN: 32, batchBytes: 2 << 20}
	f := newFrame(TextMessage, make([]byte, 128))
	var s sendQueue
	var buf [4]*frame
	for range 64 {
		s.offer(f, &l, buf[:0])
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ev, _ := s.offer(f, &l, buf[:0]); len(ev) != 1 {
			b.Fatal("no eviction")
		}
	}
}
