package nats

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// BenchmarkPublishReceive measures one adapter publishing 128-byte room
// messages through the shared broker to another adapter interested in the
// room: throughput (msgs/s) and publish-to-handler latency (p50, p99, from
// a send time carried in Data). At most window messages are in flight, so
// the receiver is never flooded into dropping: window=1 gives the latency
// of an idle link, window=1024 the throughput of a busy one.
func BenchmarkPublishReceive(b *testing.B) {
	for _, window := range []int{1, 1024} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) {
			benchmarkPublishReceive(b, window)
		})
	}
}

func benchmarkPublishReceive(b *testing.B, window int) {
	const (
		room = "bench"
		size = 128
	)
	prefix := testPrefix()
	pub := newAdapter(b, connect(b, sharedURL), prefix)
	sub := newAdapter(b, connect(b, sharedURL), prefix)
	sub.SetRoomInterest(room, true)

	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, b.N)
		received  atomic.Int64
		probes    atomic.Int64
	)
	// progress (capacity 1) wakes the publisher waiting for the window to
	// open; one pending wake-up is enough, so the handler never blocks.
	progress := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	require.NoError(b, sub.Subscribe(core.WithRoomInterest(ctx), func(m core.AdapterMessage) {
		if len(m.Data) != size {
			probes.Add(1)
			return
		}
		lat := time.Duration(time.Now().UnixNano() - int64(binary.LittleEndian.Uint64(m.Data)))
		mu.Lock()
		latencies = append(latencies, lat)
		mu.Unlock()
		received.Add(1)
		select {
		case progress <- struct{}{}:
		default:
		}
	}))
	waitHealthy(b, sub)
	// Wait until the room subscription is in place.
	probe := core.AdapterMessage{NodeID: "bench", Type: core.AdapterRoom, Room: room, Data: []byte("probe")}
	require.Eventually(b, func() bool {
		assert.NoError(b, pub.Publish(ctx, probe))
		return probes.Load() > 0
	}, waitFor, 20*time.Millisecond)

	msg := core.AdapterMessage{NodeID: "bench", Type: core.AdapterRoom, Room: room, MsgType: 1, Data: make([]byte, size)}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		for int64(i)-received.Load() >= int64(window) {
			select {
			case <-progress:
			case <-time.After(waitFor):
				b.Fatalf("stalled: %d of %d received", received.Load(), i)
			}
		}
		binary.LittleEndian.PutUint64(msg.Data, uint64(time.Now().UnixNano()))
		if err := pub.Publish(ctx, msg); err != nil {
			b.Fatal(err)
		}
	}
	for received.Load() < int64(b.N) {
		select {
		case <-progress:
		case <-time.After(waitFor):
			b.Fatalf("lost messages: %d of %d received", received.Load(), b.N)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()

	mu.Lock()
	defer mu.Unlock()
	slices.Sort(latencies)
	pct := func(p float64) float64 {
		return float64(latencies[int(p*float64(len(latencies)-1))].Microseconds())
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

// BenchmarkHistoryAppend compares storing a 128-byte room message in the
// room's history (AppendHistory: a JetStream publish acknowledged by the
// shared broker, file storage, then the live publish) with the plain
// Publish of the same message, which only hands it to nats.go's buffer, and
// with a Publish followed by a round trip to the broker (the network floor
// of anything acknowledged). batch=16 hands AppendHistory 16 messages per
// call; ns/op is per message throughout.
func BenchmarkHistoryAppend(b *testing.B) {
	const size = 128
	msg := core.AdapterMessage{NodeID: "bench", Type: core.AdapterRoom, Room: "bench", MsgType: 1, Data: make([]byte, size)}
	ctx := context.Background()
	report := func(b *testing.B, start time.Time) {
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	}
	b.Run("publish", func(b *testing.B) {
		a := newAdapter(b, connect(b, sharedURL), testPrefix())
		b.SetBytes(size)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if err := a.Publish(ctx, msg); err != nil {
				b.Fatal(err)
			}
		}
		require.NoError(b, a.nc.Flush())
		report(b, start)
	})
	b.Run("publish+flush", func(b *testing.B) {
		a := newAdapter(b, connect(b, sharedURL), testPrefix())
		b.SetBytes(size)
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; i < b.N; i++ {
			if err := a.Publish(ctx, msg); err != nil {
				b.Fatal(err)
			}
			if err := a.nc.Flush(); err != nil {
				b.Fatal(err)
			}
		}
		report(b, start)
	})
	for _, batchLen := range []int{1, 16} {
		b.Run(fmt.Sprintf("history/batch=%d", batchLen), func(b *testing.B) {
			a := newAdapter(b, connect(b, sharedURL), testPrefix())
			opts := core.History{Size: 1000}
			dropStreams(b, a, opts)
			batch := []core.HistoryAppend{{Msg: msg, Options: opts}}
			a.AppendHistory(ctx, batch) // creates the stream
			require.NoError(b, batch[0].Err)
			batch = make([]core.HistoryAppend, batchLen)
			b.SetBytes(size)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i += batchLen {
				batch = batch[:min(batchLen, b.N-i)]
				for j := range batch {
					batch[j] = core.HistoryAppend{Msg: msg, Options: opts}
				}
				a.AppendHistory(ctx, batch)
				for _, it := range batch {
					if it.Err != nil {
						b.Fatal(it.Err)
					}
				}
			}
			report(b, start)
		})
	}
}
