package backoff

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

const ms = time.Millisecond

// The windows double from Min up to Max, every wait falls in its window
// (its upper half with Equal), and Reset starts again from Min. The cases
// are the loops of this module, plus the edges.
func TestSchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give Backoff
		want []time.Duration // the windows of the first Next calls
	}{
		{
			name: "subscribe",
			give: Backoff{Min: 100 * ms, Max: 5 * time.Second},
			want: []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 5 * time.Second, 5 * time.Second},
		},
		{
			name: "redis receiver",
			give: Backoff{Min: 100 * ms, Max: 400 * ms},
			want: []time.Duration{100 * ms, 200 * ms, 400 * ms, 400 * ms},
		},
		{
			name: "history append, equal jitter",
			give: Backoff{Min: 50 * ms, Max: time.Second, Equal: true},
			want: []time.Duration{50 * ms, 100 * ms, 200 * ms, 400 * ms, 800 * ms, time.Second, time.Second},
		},
		{
			name: "Min above Max starts at Max",
			give: Backoff{Min: time.Second, Max: 300 * ms},
			want: []time.Duration{300 * ms, 300 * ms},
		},
		{
			name: "Max near the largest Duration does not overflow",
			give: Backoff{Min: time.Duration(math.MaxInt64 / 3), Max: math.MaxInt64},
			want: []time.Duration{math.MaxInt64 / 3, math.MaxInt64 / 3 * 2, math.MaxInt64, math.MaxInt64},
		},
		{name: "zero", give: Backoff{}, want: []time.Duration{0, 0}},
		{name: "no Max", give: Backoff{Min: 100 * ms}, want: []time.Duration{0, 0}},
		{name: "negative Min", give: Backoff{Min: -ms, Max: time.Second}, want: []time.Duration{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := tt.give
			assert.Zero(t, b.Window(), "before the first Next")
			for round := range 2 { // the second after Reset
				for i, w := range tt.want {
					d := b.Next()
					assert.Equal(t, w, b.Window(), "round %d, attempt %d", round, i)
					lo := time.Duration(0)
					if b.Equal {
						lo = w - w/2
					}
					assert.GreaterOrEqual(t, d, lo, "round %d, attempt %d", round, i)
					assert.LessOrEqual(t, d, w, "round %d, attempt %d", round, i)
				}
				b.Reset()
				assert.Zero(t, b.Window(), "after Reset")
			}
		})
	}
}

// No wait passes Max, however many failures: 100 loops of 30 attempts each
// (far past the cap), each wait within [0, Max].
func TestCap(t *testing.T) {
	t.Parallel()
	for _, equal := range []bool{false, true} {
		var longest time.Duration
		for range 100 {
			b := Backoff{Min: 100 * ms, Max: 5 * time.Second, Equal: equal}
			for i := range 30 {
				d := b.Next()
				assert.GreaterOrEqual(t, d, time.Duration(0), "attempt %d", i)
				assert.LessOrEqual(t, d, 5*time.Second, "attempt %d", i)
				longest = max(longest, d)
			}
			assert.Equal(t, 5*time.Second, b.Window())
		}
		// The cap is reached, not only respected: 2,400 draws at the cap
		// all below 4.5 s would have probability 0.9^2400.
		assert.Greater(t, longest, 4500*ms, "equal=%v", equal)
	}
}

// 100 loops that fail at the same moment do not retry together: their
// first waits are spread over the whole window, not all equal, and so are
// their cumulative schedules after five failures.
func TestSpread(t *testing.T) {
	t.Parallel()
	const loops = 100
	first := make(map[time.Duration]bool)
	sums := make(map[time.Duration]bool)
	var buckets [10]int
	for range loops {
		b := Backoff{Min: 100 * ms, Max: 5 * time.Second}
		d := b.Next()
		assert.GreaterOrEqual(t, d, time.Duration(0))
		assert.LessOrEqual(t, d, 100*ms)
		first[d] = true
		buckets[int(d*10/(b.Window()+1))]++
		sum := d
		for range 4 {
			sum += b.Next()
		}
		sums[sum] = true
	}
	assert.Greater(t, len(first), loops/2, "first waits mostly distinct")
	assert.Greater(t, len(sums), loops/2, "schedules mostly distinct")
	// Uniform over the window: no tenth of it holds 40 of 100 (probability
	// below 1e-9 for a uniform draw), and both ends of it are used.
	for i, n := range buckets {
		assert.Less(t, n, 40, "tenth %d of the window", i)
	}
	assert.Positive(t, buckets[0]+buckets[1], "no wait in the lowest fifth")
	assert.Positive(t, buckets[8]+buckets[9], "no wait in the highest fifth")
}

// With Equal the waits stay spread, over the upper half of the window.
func TestSpreadEqual(t *testing.T) {
	t.Parallel()
	first := make(map[time.Duration]bool)
	for range 100 {
		b := Backoff{Min: 50 * ms, Max: time.Second, Equal: true}
		d := b.Next()
		assert.GreaterOrEqual(t, d, 25*ms)
		assert.LessOrEqual(t, d, 50*ms)
		first[d] = true
	}
	assert.Greater(t, len(first), 50, "first waits mostly distinct")
}

// Reset after a success starts again from the first window, whatever the
// window had grown to.
func TestReset(t *testing.T) {
	t.Parallel()
	b := Backoff{Min: 100 * ms, Max: 5 * time.Second}
	for range 10 {
		b.Next()
	}
	assert.Equal(t, 5*time.Second, b.Window())
	b.Reset()
	for range 20 { // every first wait after a Reset is within Min
		b.Reset()
		assert.LessOrEqual(t, b.Next(), 100*ms)
		assert.Equal(t, 100*ms, b.Window())
	}
}
