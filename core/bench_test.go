package core

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

// discardConn is a net.Conn that accepts and drops writes.
type discardConn struct {
	net.Conn
	mu    sync.Mutex
	bytes int
}

func (d *discardConn) Write(p []byte) (int, error) {
	d.mu.Lock()
	d.bytes += len(p)
	d.mu.Unlock()
	return len(p), nil
}
func (d *discardConn) SetWriteDeadline(time.Time) error { return nil }
func (d *discardConn) SetReadDeadline(time.Time) error  { return nil }
func (d *discardConn) Close() error                     { return nil }

// benchHub returns a running-state hub with n in-process clients that have
// no read pump. With stalled set their write pumps never start, so only the
// enqueue path is measured.
func benchHub(b *testing.B, n int, stalled bool) (*Hub, []*Client) {
	b.Helper()
	h := NewHub(WithConfig(DefaultConfig().WithSendChannelSize(1 << 20)))
	h.state.Store(int32(StateRunning))
	clients := make([]*Client, n)
	for i := range clients {
		c := &Client{ID: newClientID(), hub: h, conn: &discardConn{}}
		c.sq.writing = stalled
		if stalled {
			c.sq.q = &frameQueue{s: make([]*frame, 0, 128)} // steady state: the queue array is reused
		}
		h.clients.add(c)
		h.count.Add(1)
		clients[i] = c
	}
	return h, clients
}

func resetQueues(clients []*Client) {
	for _, c := range clients {
		c.mu.Lock()
		clear(c.sq.q.s)
		c.sq.q.s, c.sq.head, c.sq.pendBytes = c.sq.q.s[:0], 0, 0
		c.mu.Unlock()
	}
}

var sizes = []int{1_000, 10_000, 100_000}

// BenchmarkBroadcast measures one local broadcast: snapshot plus one enqueue
// per recipient (write pumps stalled). allocs/op must not grow with N.
func BenchmarkBroadcast(b *testing.B) {
	msg := make([]byte, 128)
	for _, n := range sizes {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			h, clients := benchHub(b, n, true)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.Broadcast(msg)
				if i%64 == 63 {
					b.StopTimer()
					resetQueues(clients)
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/recipient")
		})
	}
}

// BenchmarkBroadcastToRoom is BenchmarkBroadcast for a room holding every
// client.
func BenchmarkBroadcastToRoom(b *testing.B) {
	msg := make([]byte, 128)
	for _, n := range sizes {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			h, clients := benchHub(b, n, true)
			for _, c := range clients {
				if err := h.JoinRoom(c, "room"); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := h.BroadcastToRoom("room", msg); err != nil {
					b.Fatal(err)
				}
				if i%64 == 63 {
					b.StopTimer()
					resetQueues(clients)
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/recipient")
		})
	}
}

// BenchmarkBroadcastWrite includes the write pumps: each op broadcasts and
// waits until every client's frame went through its pump into a discarding
// connection.
func BenchmarkBroadcastWrite(b *testing.B) {
	msg := make([]byte, 128)
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			h, clients := benchHub(b, n, false)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.Broadcast(msg)
				for _, c := range clients {
					c.waitWriter()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/recipient")
		})
	}
}

func BenchmarkSendToClient(b *testing.B) {
	msg := make([]byte, 128)
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			h, clients := benchHub(b, n, true)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := h.SendToClient(clients[i%n].ID, msg); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			resetQueues(clients)
		})
	}
}

func BenchmarkSendToUser(b *testing.B) {
	msg := make([]byte, 128)
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("clients=%d", n), func(b *testing.B) {
			h, clients := benchHub(b, n, true)
			users := make([]string, n)
			for i, c := range clients {
				users[i] = fmt.Sprintf("user-%d", i)
				c.userID = users[i]
				if err := h.users.add(c, users[i], 0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				h.SendToUser(users[i%n], msg)
			}
			b.StopTimer()
			resetQueues(clients)
		})
	}
}

func BenchmarkGetClient(b *testing.B) {
	h, clients := benchHub(b, 100_000, true)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, ok := h.GetClient(clients[i%len(clients)].ID); !ok {
			b.Fatal("missing")
		}
	}
}

func BenchmarkJoinLeaveRoom(b *testing.B) {
	h, clients := benchHub(b, 10_000, true)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := clients[i%len(clients)]
		if err := h.JoinRoom(c, "r"); err != nil {
			b.Fatal(err)
		}
		if err := h.LeaveRoom(c, "r"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConnect measures registering and unregistering one client while
// n others are registered: it must not grow with n.
func BenchmarkConnect(b *testing.B) {
	for _, n := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("registered=%d", n), func(b *testing.B) {
			h, _ := benchHub(b, n, true)
			extra := make([]*Client, 1024)
			for i := range extra {
				extra[i] = &Client{ID: newClientID(), hub: h}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				c := extra[i%len(extra)]
				h.clients.add(c)
				h.count.Add(1)
				if h.clients.remove(c) {
					h.count.Add(-1)
				}
			}
		})
	}
}

func BenchmarkMiddlewareChain(b *testing.B) {
	chain := NewMiddlewareChain(func(*Client, *Message) error { return nil }).
		Use(RecoveryMiddleware(&NoOpLogger{})).
		Use(LoggingMiddleware(&NoOpLogger{})).
		Use(MetricsMiddleware(&NoOpMetrics{})).
		Build()
	handler := chain.Handler()
	msg := NewMessage([]byte("x"))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = handler(nil, msg)
	}
}

func BenchmarkRouter(b *testing.B) {
	r := NewRouter(func(m *Message) string { return string(m.Data[:4]) })
	for _, e := range []string{"chat", "join", "left", "ping"} {
		r.On(e, func(*Client, *Message) error { return nil })
	}
	msg := NewMessage([]byte("chat payload"))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		_ = r.Handle(nil, msg)
	}
}
