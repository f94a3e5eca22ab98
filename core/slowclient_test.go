package core

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// smallSocketBuffers makes the kernel hold little for each server
// connection, so that a slow reader shows in the hub's queue within
// seconds rather than after megabytes of socket buffers.
func smallSocketBuffers(h *Hub) {
	h.testHookAfterUpgrade = func(c *Client) {
		if tc, ok := c.conn.(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(32 << 10)
		}
	}
}

// smallBufferDialer dials with a small receive buffer, for the same reason.
var smallBufferDialer = websocket.Dialer{
	NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(32 << 10)
		}
		return nc, err
	},
}

// Slow readers under each policy: 100 clients that read one 64 KiB message
// per 200 ms while the hub queues four times that for each (a distinct
// payload per client, the worst case for memory). Every client's queue stays
// within its byte budget plus one message, the hub's heap within the sum of
// those, and ten fast clients keep receiving their 10 ms ticks.
// DisconnectSlow closes every slow client with 1013 instead. The latency
// figures are logged; cmd/loadtest's slow scenario measures them without
// the race detector.
func TestSlowReadersStayWithinBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 100 slow clients for seconds")
	}
	const (
		slowN   = 100
		fastN   = 10
		msgSize = 64 << 10
		budget  = 512 << 10 // MaxMessageSize's default: the smallest budget allowed
	)
	for _, policy := range []DropPolicy{DropNewest, DropOldest, DisconnectSlow} {
		t.Run(fmt.Sprint(policy), func(t *testing.T) {
			m := newCloseCodes()
			h, srv := startHub(t, WithDropPolicy(policy), WithMetrics(m), smallSocketBuffers,
				WithConfig(DefaultConfig().WithMaxQueuedBytes(budget)))
			url := wsURL(srv)

			var fastLat latencies
			stop := make(chan struct{})
			var readers, bg sync.WaitGroup
			stopAll := sync.OnceFunc(func() { close(stop); bg.Wait() })
			t.Cleanup(func() { stopAll(); readers.Wait() })
			for i := 0; i < fastN; i++ {
				conn := dial(t, srv)
				readers.Add(1)
				go func() {
					defer readers.Done()
					for {
						_, data, err := conn.ReadMessage()
						if err != nil {
							return
						}
						fastLat.add(time.Since(time.Unix(0, int64(binary.BigEndian.Uint64(data)))))
					}
				}()
			}
			require.Eventually(t, func() bool { return h.ClientCount() == fastN }, 5*time.Second, time.Millisecond)
			for _, c := range h.Clients() {
				require.NoError(t, h.JoinRoom(c, "fast"))
			}
			bg.Add(1)
			go func() {
				defer bg.Done()
				tk := time.NewTicker(10 * time.Millisecond)
				defer tk.Stop()
				for {
					select {
					case <-stop:
						return
					case now := <-tk.C:
						_ = h.BroadcastBinaryToRoom("fast", binary.BigEndian.AppendUint64(nil, uint64(now.UnixNano())))
					}
				}
			}()

			// Baseline: the fast clients alone.
			require.Eventually(t, func() bool { return fastLat.len() >= 50 }, 10*time.Second, time.Millisecond)
			base := fastLat.reset()

			var closes1013 atomic.Int32
			slowConns := make([]*websocket.Conn, slowN)
			for i := range slowConns {
				conn, resp, err := smallBufferDialer.Dial(url, nil)
				require.NoError(t, err)
				_ = resp.Body.Close()
				t.Cleanup(func() { _ = conn.Close() })
				slowConns[i] = conn
				readers.Add(1)
				go func() {
					defer readers.Done()
					tk := time.NewTicker(200 * time.Millisecond)
					defer tk.Stop()
					paced := true // until stop; then it reads what is left, and the close
					for {
						if paced {
							select {
							case <-stop:
								paced = false
							case <-tk.C:
							}
						}
						if _, _, err := conn.ReadMessage(); err != nil {
							if websocket.IsCloseError(err, websocket.CloseTryAgainLater) {
								closes1013.Add(1)
							}
							return
						}
					}
				}()
			}
			require.Eventually(t, func() bool { return h.ClientCount() == fastN+slowN }, 10*time.Second, time.Millisecond)
			var slow []*Client
			for _, c := range h.Clients() {
				if !c.InRoom("fast") {
					slow = append(slow, c)
				}
			}
			require.Len(t, slow, slowN)

			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			heapBefore := ms.HeapAlloc

			// Four messages per slow client per read, each a new allocation.
			bg.Add(1)
			go func() {
				defer bg.Done()
				tk := time.NewTicker(50 * time.Millisecond)
				defer tk.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tk.C:
					}
					for _, c := range slow {
						_ = c.SendBinary(make([]byte, msgSize))
					}
				}
			}()

			var maxQueued int64
			var maxHeap uint64
			// Sample for at least 3 s, and until the queues have reached their
			// bounds (drops begin), which takes longer on a loaded machine.
			sample := time.NewTicker(50 * time.Millisecond)
			start := time.Now()
			for i := 0; ; i++ {
				for _, c := range slow {
					maxQueued = max(maxQueued, c.QueuedBytes())
				}
				if i%5 == 4 { // what the heap retains, without the feeder's garbage
					runtime.GC()
					runtime.ReadMemStats(&ms)
					maxHeap = max(maxHeap, ms.HeapAlloc)
				}
				if time.Since(start) >= 3*time.Second && m.Stats().TotalDropped > 0 {
					break
				}
				require.Less(t, time.Since(start), time.Minute, "the slow readers' queues never reached their bounds")
				<-sample.C
			}
			sample.Stop()
			stopAll()
			loaded := fastLat.reset()
			t.Logf("policy %v: fast clients p99 %v alone, %v with %d slow readers; max queued per slow client %d KiB; heap +%d MiB; dropped %d",
				policy, base.p99(), loaded.p99(), slowN, maxQueued>>10, (int64(maxHeap)-int64(heapBefore))>>20, m.Stats().TotalDropped)

			assert.LessOrEqual(t, maxQueued, int64(budget+msgSize), "a client holds at most its budget plus one message")
			assert.LessOrEqual(t, int64(maxHeap)-int64(heapBefore), int64(slowN*(budget+msgSize)+64<<20),
				"the heap grows by at most the queues' bounds")
			assert.Positive(t, loaded.len(), "the fast clients kept receiving")
			assert.Less(t, loaded.p99(), 2*time.Second, "the fast clients' ticks are not stuck behind the slow ones")
			if policy == DisconnectSlow {
				require.Eventually(t, func() bool { return closes1013.Load() == slowN }, 10*time.Second, 10*time.Millisecond,
					"slow clients closed with 1013: %d", closes1013.Load())
				assert.Equal(t, int64(slowN), m.errors("slow_client"))
				assert.Equal(t, fastN, h.ClientCount(), "the fast clients stay")
			} else {
				assert.Positive(t, m.Stats().TotalDropped)
				assert.Equal(t, fastN+slowN, h.ClientCount(), "slow clients stay connected")
			}
		})
	}
}

// latencies collects durations from several goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) { l.mu.Lock(); l.d = append(l.d, d); l.mu.Unlock() }

func (l *latencies) len() int { l.mu.Lock(); defer l.mu.Unlock(); return len(l.d) }

// reset returns what was collected and starts over.
func (l *latencies) reset() *latencies {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := &latencies{d: l.d}
	l.d = nil
	return out
}

func (l *latencies) p99() time.Duration {
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	return s[len(s)*99/100]
}
