package wshubtest

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wshub/wshub/core"
)

// BenchRoomPublish measures a room broadcast from one node to a member on
// another, end to end over real sockets: node A publishes b.N messages
// with at most window of them not yet read by the member, which reads them
// on node B. With history the room keeps 1,000 messages (HistoryRooms), so
// each message is stored before any node delivers it. It reports msgs/s
// and the latency from BroadcastToRoom to the member's read (p50, p99).
// newAdapter returns a fresh adapter on the bus under test.
func BenchRoomPublish(b *testing.B, history bool, window int, newAdapter func(tb testing.TB) core.Adapter) {
	pub := HistoryNode(b, "bench-pub", newAdapter(b), nil)
	sub := HistoryNode(b, "bench-sub", newAdapter(b), nil)
	room := "plain-" + core.NewEpoch()
	if history {
		room = "hist-" + core.NewEpoch()
	}
	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(sub.Server.URL, "http")+"/?join="+room, nil)
	if err != nil {
		b.Fatal(err)
	}
	_ = resp.Body.Close()
	defer func() { _ = conn.Close() }()
	// Wait until the member is in the room and messages flow.
	deadline := time.Now().Add(waitTimeout)
	for len(sub.Hub.RoomClients(room)) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	var got atomic.Int64
	lat := make([]time.Duration, 0, b.N)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for got.Load() < int64(b.N) {
			_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			payload := data
			if history {
				var e Envelope
				if json.Unmarshal(data, &e) != nil || e.Cursor == "" {
					continue
				}
				payload = e.Data
			}
			ns, err := strconv.ParseInt(strings.Trim(string(payload), `"`), 10, 64)
			if err != nil {
				continue
			}
			lat = append(lat, time.Duration(time.Now().UnixNano()-ns))
			got.Add(1)
		}
	}()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for int64(i)-got.Load() >= int64(window) {
			select {
			case <-done:
				b.Fatalf("the member stopped after %d of %d", got.Load(), b.N)
			default:
				time.Sleep(50 * time.Microsecond) // pacing the window, not synchronisation
			}
		}
		if err := pub.Hub.BroadcastToRoom(room, []byte(strconv.FormatInt(time.Now().UnixNano(), 10))); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	elapsed := time.Since(start)
	b.StopTimer()
	if got.Load() < int64(b.N) {
		b.Fatalf("the member read %d of %d", got.Load(), b.N)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
