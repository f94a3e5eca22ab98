package redis

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// BenchmarkPublishReceive measures one adapter publishing 128-byte room
// messages to another through the shared Redis: throughput of the whole
// path (encode, PUBLISH, Redis fan-out, read, decode, handler) and the
// latency of each message, from just before Publish to the handler. The
// first 8 bytes of Data carry the send time.
//
//	go test -run '^$' -bench PublishReceive -benchtime 1s ./adapters/redis/
func BenchmarkPublishReceive(b *testing.B) {
	for _, bc := range []struct {
		name  string
		batch int
	}{
		{name: "publish", batch: 1},
		{name: "batch64", batch: 64},
	} {
		b.Run(bc.name, func(b *testing.B) { benchPublishReceive(b, bc.batch) })
	}
}

func benchPublishReceive(b *testing.B, batch int) {
	prefix := uniquePrefix(b)
	pub := newAdapter(b, sharedAddr, prefix)
	sub := newAdapter(b, sharedAddr, prefix)

	var (
		mu  sync.Mutex
		lat []time.Duration
	)
	sub.SetRoomInterest("bench", true)
	require.NoError(b, sub.Subscribe(core.WithRoomInterest(context.Background()), func(m core.AdapterMessage) {
		now := time.Now().UnixNano()
		sent := int64(binary.LittleEndian.Uint64(m.Data))
		mu.Lock()
		lat = append(lat, time.Duration(now-sent))
		mu.Unlock()
	}))
	waitHealthy(b, sub)
	probe := newClient(b, sharedAddr)
	require.Eventually(b, func() bool { return numSub(b, probe, prefix+":room:bench") == 1 }, waitFor, 10*time.Millisecond)

	msgs := make([]core.AdapterMessage, batch)
	for i := range msgs {
		msgs[i] = core.AdapterMessage{NodeID: "bench", Type: core.AdapterRoom, Room: "bench", MsgType: 2, Data: make([]byte, 128)}
	}
	ctx := context.Background()
	sent := 0
	start := time.Now()
	for b.Loop() {
		for i := range msgs {
			binary.LittleEndian.PutUint64(msgs[i].Data, uint64(time.Now().UnixNano()))
		}
		var err error
		if batch == 1 {
			err = pub.Publish(ctx, msgs[0])
		} else {
			err = pub.PublishBatch(ctx, msgs)
		}
		if err != nil {
			b.Fatal(err)
		}
		sent += batch
	}
	received := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(lat)
	}
	require.Eventually(b, func() bool { return received() >= sent }, waitFor, time.Millisecond,
		"received %d of %d", received(), sent)
	elapsed := time.Since(start)
	b.StopTimer()

	mu.Lock()
	defer mu.Unlock()
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(sent-len(lat)), "lost")
}

// BenchmarkHistoryAppend compares storing room messages in a history room
// (AppendHistory: one script per message, which stores and publishes) with
// publishing the same messages plainly (PublishBatch), in batches of 1 and
// 64, through the shared Redis, with one subscriber taking the room. It
// reports the messages per second that reached the subscriber.
//
//	go test -run '^$' -bench HistoryAppend -benchtime 2s ./adapters/redis/
func BenchmarkHistoryAppend(b *testing.B) {
	for _, bc := range []struct {
		name    string
		history bool
		batch   int
	}{
		{name: "history/batch1", history: true, batch: 1},
		{name: "publish/batch1", batch: 1},
		{name: "history/batch64", history: true, batch: 64},
		{name: "publish/batch64", batch: 64},
	} {
		b.Run(bc.name, func(b *testing.B) { benchHistoryAppend(b, bc.history, bc.batch) })
	}
}

func benchHistoryAppend(b *testing.B, history bool, batch int) {
	prefix := uniquePrefix(b)
	pub := newAdapter(b, sharedAddr, prefix)
	sub := newAdapter(b, sharedAddr, prefix)
	dropHistoryOnCleanup(b, pub, "bench")
	var received atomic.Int64
	sub.SetRoomInterest("bench", true)
	require.NoError(b, sub.Subscribe(core.WithRoomInterest(context.Background()), func(core.AdapterMessage) {
		received.Add(1)
	}))
	waitHealthy(b, sub)
	probe := newClient(b, sharedAddr)
	require.Eventually(b, func() bool { return numSub(b, probe, prefix+":room:bench") == 1 }, waitFor, 10*time.Millisecond)

	msg := core.AdapterMessage{NodeID: "bench", Type: core.AdapterRoom, Room: "bench", MsgType: 2, Data: make([]byte, 128)}
	msgs := make([]core.AdapterMessage, batch)
	items := make([]core.HistoryAppend, batch)
	opts := core.History{Size: 1000}
	ctx := context.Background()
	sent := 0
	start := time.Now()
	for b.Loop() {
		if history {
			for i := range items {
				items[i] = core.HistoryAppend{Msg: msg, Options: opts}
			}
			pub.AppendHistory(ctx, items)
			for i := range items {
				if items[i].Err != nil {
					b.Fatal(items[i].Err)
				}
			}
		} else {
			for i := range msgs {
				msgs[i] = msg
			}
			if err := pub.PublishBatch(ctx, msgs); err != nil {
				b.Fatal(err)
			}
		}
		sent += batch
	}
	require.Eventually(b, func() bool { return received.Load() >= int64(sent) }, waitFor, time.Millisecond,
		"received %d of %d", received.Load(), sent)
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "msgs/s")
}
