package wshubtest

import (
	"encoding/binary"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// BenchCrossNode measures delivery from one node to another through a real
// bus: hub A broadcasts b.N messages of 128 bytes, each stamped with its send
// time; hub B relays them to its real WebSocket clients. A keeps at most
// window messages in flight (not yet received by every client), so nothing
// is dropped: window 1 measures latency without queueing, a larger window
// the sustained rate. It reports deliveries/s and the p50/p99 latency from
// A's Broadcast call to a client's read.
func BenchCrossNode(b *testing.B, newAdapter func(tb testing.TB) core.Adapter, clients, window int) {
	cfg := core.WithConfig(core.DefaultConfig().WithSendChannelSize(4 * window))
	hubA := StartHubNode(b, "bench-a", newAdapter(b), cfg).Hub
	nodeB := StartHubNode(b, "bench-b", newAdapter(b), cfg)
	hubB := nodeB.Hub

	var (
		mu        sync.Mutex
		cond      = sync.NewCond(&mu)
		minRecv   = 0
		received  = make([]int, clients)
		latencies = make([][]time.Duration, clients)
		wg        sync.WaitGroup
	)
	url := "ws" + strings.TrimPrefix(nodeB.Server.URL, "http")
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			b.Fatal(err)
		}
		_ = resp.Body.Close()
		conns[i] = conn
	}
	// Registration is asynchronous to the dial. No room interest to wait
	// for: broadcasts go to every node.
	require.Eventually(b, func() bool { return hubB.ClientCount() >= clients }, waitTimeout, time.Millisecond,
		"clients never registered")
	b.ResetTimer()
	begin := time.Now()
	for i := range conns {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			lat := make([]time.Duration, 0, b.N)
			for n := 0; n < b.N; n++ {
				_, data, err := conns[i].ReadMessage()
				if err != nil {
					b.Error(err)
					return
				}
				lat = append(lat, time.Since(time.Unix(0, int64(binary.BigEndian.Uint64(data)))))
				mu.Lock()
				received[i]++
				if received[i] == minRecv+1 {
					m := received[0]
					for _, r := range received {
						m = min(m, r)
					}
					if m != minRecv {
						minRecv = m
						cond.Broadcast()
					}
				}
				mu.Unlock()
			}
			latencies[i] = lat
		}(i)
	}
	payload := make([]byte, 128)
	for n := 0; n < b.N; n++ {
		mu.Lock()
		for n-minRecv >= window {
			cond.Wait()
		}
		mu.Unlock()
		msg := make([]byte, len(payload))
		binary.BigEndian.PutUint64(msg, uint64(time.Now().UnixNano()))
		hubA.BroadcastBinary(msg)
	}
	wg.Wait()
	elapsed := time.Since(begin)
	b.StopTimer()
	for _, c := range conns {
		_ = c.Close()
	}
	var all []time.Duration
	for _, l := range latencies {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
}
