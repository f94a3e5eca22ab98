package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestBucketsCoverValuesInOrder(t *testing.T) {
	prev := -1
	for _, us := range []uint64{0, 1, 63, 64, 65, 100, 127, 128, 1000, 12345, 1 << 20, 1<<34 + 7, 1 << 50} {
		b := bucketOf(us)
		require.GreaterOrEqual(t, b, prev, "bucket of %d", us)
		require.Less(t, b, numBuckets)
		prev = b
		lo, hi := bucketBounds(b)
		if us < 1<<(maxExponent) {
			assert.LessOrEqual(t, lo, us, "lo of %d", us)
			assert.GreaterOrEqual(t, hi, us, "hi of %d", us)
			assert.LessOrEqual(t, float64(hi-lo), float64(us)*0.04+1, "width at %d", us)
		}
	}
}

func TestQuantiles(t *testing.T) {
	tests := []struct {
		give []int64 // nanoseconds
		q    float64
		want uint64 // microseconds, before rounding up to the bucket's bound
	}{
		{give: nil, q: 0.99, want: 0},
		{give: []int64{5000}, q: 0.5, want: 5},
		{give: []int64{1000, 2000, 3000, 4000}, q: 0.5, want: 2},
		{give: []int64{10_000, 10_000, 10_000, 50_000_000}, q: 0.99, want: 50_000},
		{give: []int64{10_000, 10_000, 10_000, 50_000_000}, q: 0.5, want: 10},
		{give: []int64{-5, 30_000}, q: 0.5, want: 0},
		{give: []int64{1_500_000, 1_500_000, 1_500_000}, q: 0.95, want: 1500},
	}
	for _, tt := range tests {
		var h sharded
		for i, ns := range tt.give {
			h.record(i, ns)
		}
		var c counts
		h.snapshot(&c)
		_, hi := bucketBounds(bucketOf(tt.want))
		if len(tt.give) == 0 {
			hi = 0
		}
		assert.Equal(t, hi, c.quantile(tt.q), "give %v q %v", tt.give, tt.q)
	}
}

func TestSparseRoundTripAndDelta(t *testing.T) {
	var h sharded
	for i := 0; i < 1000; i++ {
		h.record(i, int64(i)*1000)
	}
	var a, b counts
	maxNs := h.snapshot(&a)
	assert.Equal(t, int64(999_000), maxNs)
	b.addSparse(a.sparse())
	assert.Equal(t, a, b)
	h.record(3, 7_000_000)
	var c counts
	h.snapshot(&c)
	c.sub(&a)
	assert.Equal(t, uint64(1), c.total())
	_, hi := bucketBounds(bucketOf(7000))
	assert.Equal(t, hi, c.quantile(0.5))
}
