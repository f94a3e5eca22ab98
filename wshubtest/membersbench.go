package wshubtest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// BenchMembers measures member presence on one node of the bus under test
// with members real connections, dialed by a child process (the test
// binary again, diverted by MemberChild in TestMain): how fast the node
// records their joins in the store, how long Hub.Presence takes to list
// them (the timed loop), and how fast it records their leaves when they
// all close.
func BenchMembers(b *testing.B, members int, newAdapter func(tb testing.TB) core.Adapter) {
	var ev PresenceEvents
	n := MembersNode(b, "bench-"+core.NewEpoch()[:6], newAdapter(b), &ev)
	WaitHealthy(b, n.Adapter)
	room := "now-" + core.NewEpoch()
	stats := func() core.PresenceStats {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := n.Hub.PresenceStats(ctx, room)
		require.NoError(b, err)
		return s
	}
	start := time.Now()
	_, lines, in := startChild(b, dialChildEnv+"="+fmt.Sprintf("%s %d %s", n.Server.URL, members, room))
	awaitLine(b, lines, "READY")
	dialed := time.Since(start)
	require.Eventually(b, func() bool { return stats().Clients == members }, 2*time.Minute, 10*time.Millisecond)
	joined := time.Since(start)

	ctx := context.Background()
	for b.Loop() {
		ms, err := n.Hub.Presence(ctx, room)
		require.NoError(b, err)
		require.Len(b, ms, members)
	}
	b.StopTimer()

	leaving := time.Now()
	require.NoError(b, in.Close())
	require.Eventually(b, func() bool { return stats().Clients == 0 }, 2*time.Minute, 10*time.Millisecond)
	left := time.Since(leaving)
	b.ReportMetric(float64(members)/joined.Seconds(), "joins/s")
	b.ReportMetric(float64(members)/left.Seconds(), "leaves/s")
	b.Logf("%d members: dialed in %v, all recorded %v after the first dial, all gone %v after they closed",
		members, dialed.Round(time.Millisecond), joined.Round(time.Millisecond), left.Round(time.Millisecond))
}

// BenchBroadcastChurn measures what member churn costs message delivery on
// one node of the bus under test: 100 clients in a plain room receive 2,000
// broadcasts sent 1 ms apart, each carrying its send time, and the p99 of
// their delivery latency is reported. With churn "plain" or "members",
// other clients meanwhile connect, join a plain room or a room that tracks
// members, and disconnect, as fast as four loops in this process can: the
// difference between the two is what presence costs delivery, the
// difference with "" what connection churn itself costs on this machine.
func BenchBroadcastChurn(b *testing.B, churn string, newAdapter func(tb testing.TB) core.Adapter) {
	var ev PresenceEvents
	n := MembersNode(b, "churn-"+core.NewEpoch()[:6], newAdapter(b), &ev)
	WaitHealthy(b, n.Adapter)
	room := "plain-" + core.NewEpoch()
	const listeners, msgs = 100, 2000
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	url := "ws" + strings.TrimPrefix(n.Server.URL, "http")
	for range listeners {
		c, resp, err := websocket.DefaultDialer.Dial(url+"/?join="+room, nil)
		require.NoError(b, err)
		_ = resp.Body.Close()
		b.Cleanup(func() { _ = c.Close() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range msgs {
				_, data, err := c.ReadMessage()
				if err != nil {
					return
				}
				sent, err := strconv.ParseInt(string(data), 10, 64)
				if err != nil {
					return
				}
				d := time.Since(time.Unix(0, sent))
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}
		}()
	}
	require.Eventually(b, func() bool { return n.Hub.RoomCount(room) == listeners }, waitTimeout, time.Millisecond)

	stop := make(chan struct{})
	var churned atomic.Int64
	var cw sync.WaitGroup
	churnRoom := map[string]string{"plain": "plain-churn", "members": "now-churn"}[churn]
	if churnRoom != "" {
		for w := range 4 {
			cw.Add(1)
			go func() {
				defer cw.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					c, resp, err := websocket.DefaultDialer.Dial(fmt.Sprintf("%s/user?id=w%d-%d&join=%s", url, w, i%20, churnRoom), nil)
					if err != nil {
						continue
					}
					_ = resp.Body.Close()
					_ = c.Close()
					churned.Add(1)
				}
			}()
		}
	}
	// One round whatever b.N is (run it with -benchtime 1x): the figure is
	// the latency distribution, not the time per loop.
	b.ResetTimer()
	tick := time.NewTicker(time.Millisecond)
	for range msgs {
		<-tick.C
		require.NoError(b, n.Hub.BroadcastToRoom(room, strconv.AppendInt(nil, time.Now().UnixNano(), 10)))
	}
	tick.Stop()
	wg.Wait()
	b.StopTimer()
	close(stop)
	cw.Wait()
	slices.Sort(lat)
	require.NotEmpty(b, lat)
	p99 := lat[len(lat)*99/100]
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(lat))/float64(listeners*msgs)*100, "%delivered")
	b.Logf("churn=%q: %d deliveries, p50 %v, p99 %v, %d churned connections", churn, len(lat),
		lat[len(lat)/2].Round(time.Microsecond), p99.Round(time.Microsecond), churned.Load())
}
