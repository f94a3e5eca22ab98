package main

import (
	"math/bits"
	"sync/atomic"
)

// Latencies are recorded in microseconds into log-linear buckets: values
// below 64 get a bucket each, larger ones 32 buckets per power of two (about
// 3% relative error), up to 2^40 µs (12 days).
const (
	linearBuckets = 64
	subBuckets    = 32
	maxExponent   = 40
	numBuckets    = linearBuckets + (maxExponent-5)*subBuckets
	histShards    = 64
)

// bucketOf returns the bucket of a latency in microseconds.
func bucketOf(us uint64) int {
	if us < linearBuckets {
		return int(us)
	}
	e := bits.Len64(us) - 6 // us>>e is in [32, 64)
	if e >= maxExponent-5 {
		return numBuckets - 1
	}
	return linearBuckets + (e-1)*subBuckets + int(us>>e) - subBuckets
}

// bucketBounds returns the smallest and largest value in microseconds that
// fall in bucket i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < linearBuckets {
		return uint64(i), uint64(i)
	}
	j := i - linearBuckets
	e := j/subBuckets + 1
	m := uint64(j%subBuckets + subBuckets)
	return m << e, (m+1)<<e - 1
}

// counts is a plain (single-owner) histogram.
type counts [numBuckets]uint64

// sharded is a latency histogram written concurrently by many client
// goroutines without locks: each writer picks a shard by its client index and
// adds atomically; readers merge the shards.
type sharded struct {
	shards [histShards]struct {
		b   counts
		max atomic.Int64
		_   [56]byte // keep the next shard's max off this cache line
	}
}

// record adds one latency in nanoseconds to the shard of client idx.
func (h *sharded) record(idx int, ns int64) {
	if ns < 0 {
		ns = 0
	}
	s := &h.shards[idx%histShards]
	atomic.AddUint64(&s.b[bucketOf(uint64(ns/1000))], 1)
	for {
		m := s.max.Load()
		if ns <= m || s.max.CompareAndSwap(m, ns) {
			return
		}
	}
}

// snapshot merges the shards into c and returns the largest value seen.
func (h *sharded) snapshot(c *counts) (maxNs int64) {
	*c = counts{}
	for i := range h.shards {
		s := &h.shards[i]
		for b := range s.b {
			if v := atomic.LoadUint64(&s.b[b]); v != 0 {
				c[b] += v
			}
		}
		maxNs = max(maxNs, s.max.Load())
	}
	return maxNs
}

// total returns the number of values in c.
func (c *counts) total() uint64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}

// quantile returns the value in microseconds below which a fraction q of
// the recorded values lie (the upper bound of the bucket that holds it), or
// 0 for an empty histogram.
func (c *counts) quantile(q float64) uint64 {
	n := c.total()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.5)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i, v := range c {
		seen += v
		if seen >= rank {
			_, hi := bucketBounds(i)
			return hi
		}
	}
	_, hi := bucketBounds(numBuckets - 1)
	return hi
}

// add adds o to c.
func (c *counts) add(o *counts) {
	for i, v := range o {
		c[i] += v
	}
}

// sub sets c to c - o (o an earlier snapshot of the same histogram).
func (c *counts) sub(o *counts) {
	for i, v := range o {
		c[i] -= v
	}
}

// sparse returns the non-empty buckets as [index, count] pairs, the form in
// which workers send histograms to the parent.
func (c *counts) sparse() [][2]uint64 {
	var out [][2]uint64
	for i, v := range c {
		if v != 0 {
			out = append(out, [2]uint64{uint64(i), v})
		}
	}
	return out
}

// addSparse adds pairs produced by sparse, ignoring out-of-range indexes.
func (c *counts) addSparse(pairs [][2]uint64) {
	for _, p := range pairs {
		if p[0] < numBuckets {
			c[p[0]] += p[1]
		}
	}
}
