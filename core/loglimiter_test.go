package core

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The first call passes, the calls within the interval do not, and one
// passes again once the interval is over.
func TestLogLimiter(t *testing.T) {
	t.Parallel()
	l := logLimiter{every: 50 * time.Millisecond}
	require.True(t, l.allow(), "first call")
	assert.False(t, l.allow(), "within the interval")
	assert.False(t, l.allow(), "within the interval")
	require.Eventually(t, l.allow, 2*time.Second, 5*time.Millisecond, "after the interval")
	assert.False(t, l.allow(), "within the next interval")
}

// Concurrent callers within one interval let exactly one line through.
func TestLogLimiterConcurrent(t *testing.T) {
	t.Parallel()
	l := logLimiter{every: time.Hour}
	var passed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				if l.allow() {
					passed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), passed.Load())
}

// BenchmarkLogLimiter measures allow() where the hub calls it: around the
// log line of every adapter failure and dropped publish, which in a broker
// outage is every publish. Almost all of those calls are refused, so the
// refused path is the one that counts, alone and under parallel callers
// (the publisher, the presence goroutine, write pumps).
func BenchmarkLogLimiter(b *testing.B) {
	b.Run("refused", func(b *testing.B) {
		l := logLimiter{every: time.Hour}
		l.allow()
		b.ReportAllocs()
		for b.Loop() {
			if l.allow() {
				b.Fatal("allowed within the interval")
			}
		}
	})
	b.Run("refused-parallel", func(b *testing.B) {
		l := logLimiter{every: time.Hour}
		l.allow()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if l.allow() {
					b.Error("allowed within the interval")
				}
			}
		})
	})
}

// BenchmarkAdapterDropped measures the whole path a publish dropped before
// the broker takes (count it, then ask the limiter whether to log), to put
// the limiter's share of it in proportion.
func BenchmarkAdapterDropped(b *testing.B) {
	h := NewHub()
	h.adapterDropped(1, DropStopped) // the one line of this interval
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.adapterDropped(1, DropStopped)
		}
	})
}
