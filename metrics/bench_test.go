package metrics

import (
	"testing"
	"time"

	"github.com/wshub/wshub/core"
)

// hubLike holds the collector the way the hub does, behind the interface.
type hubLike struct {
	metrics core.MetricsCollector
	close   core.CloseMetricsCollector
	traffic core.TrafficMetricsCollector
}

func newBenchHub(b *testing.B) *hubLike {
	b.Helper()
	c, _, err := NewWithRegistry()
	if err != nil {
		b.Fatal(err)
	}
	return &hubLike{metrics: c, close: c, traffic: c}
}

func BenchmarkIncrementMessagesSent(b *testing.B) {
	h := newBenchHub(b)
	b.ReportAllocs()
	for b.Loop() {
		h.metrics.IncrementMessagesSent(16)
	}
}

func BenchmarkIncrementMessagesSentParallel(b *testing.B) {
	h := newBenchHub(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.metrics.IncrementMessagesSent(16)
		}
	})
}

func BenchmarkIncrementErrors(b *testing.B) {
	h := newBenchHub(b)
	kind := string([]byte("write")) // not a constant, as from the hub
	b.ReportAllocs()
	for b.Loop() {
		h.metrics.IncrementErrors(kind)
	}
}

// BenchmarkIncrementErrorsUncached is what IncrementErrors would cost
// without the child cache: CounterVec.WithLabelValues on every call.
func BenchmarkIncrementErrorsUncached(b *testing.B) {
	c, _, err := NewWithRegistry()
	if err != nil {
		b.Fatal(err)
	}
	kind := string([]byte("write"))
	b.ReportAllocs()
	for b.Loop() {
		c.errors.WithLabelValues(kind).Inc()
	}
}

func BenchmarkIncrementCloseCode(b *testing.B) {
	h := newBenchHub(b)
	code := 1001
	b.ReportAllocs()
	for b.Loop() {
		h.close.IncrementCloseCode(code)
	}
}

func BenchmarkRecordLatency(b *testing.B) {
	h := newBenchHub(b)
	b.ReportAllocs()
	for b.Loop() {
		h.metrics.RecordLatency(300 * time.Microsecond)
	}
}

// BenchmarkAddBytesSent is what the write pump pays per socket write.
func BenchmarkAddBytesSent(b *testing.B) {
	h := newBenchHub(b)
	b.ReportAllocs()
	for b.Loop() {
		h.traffic.AddBytesSent(1400)
	}
}

func BenchmarkAddBytesSentParallel(b *testing.B) {
	h := newBenchHub(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.traffic.AddBytesSent(1400)
		}
	})
}
