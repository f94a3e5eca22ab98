package redis

import (
	"context"
	"encoding/binary"
	"slices"
	"sync"
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
