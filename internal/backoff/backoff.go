package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff yields the waits of one retry loop: call [Backoff.Next] after
// each failure and [Backoff.Reset] after a success. Set Min and Max; a
// Backoff whose Min or Max is 0 or less (the zero Backoff) waits nothing.
// It is not safe for concurrent use.
type Backoff struct {
	// Min is the first window; each failure doubles it.
	Min time.Duration
	// Max caps the window, and so every wait, Min included.
	Max time.Duration
	// Equal draws each wait from the upper half of its window (equal
	// jitter) instead of the whole of it (full jitter, the default). Set
	// it for a loop with a fixed number of attempts; see the package doc.
	Equal bool

	window time.Duration // the window of the last Next; 0: none yet
}

// Next returns the wait before the next attempt: it widens the window (to
// Min at first, then doubling, up to Max) and draws a random duration from
// it, or from its upper half with Equal. It never blocks.
func (b *Backoff) Next() time.Duration {
	switch {
	case b.window <= 0:
		b.window = max(min(b.Min, b.Max), 0)
	case b.window > b.Max/2: // doubling would pass Max, or overflow
		b.window = b.Max
	default:
		b.window *= 2
	}
	if b.window == 0 {
		return 0
	}
	if b.Equal {
		half := b.window / 2
		return b.window - half + rand.N(half+1)
	}
	// In uint64, window+1 cannot overflow.
	return time.Duration(rand.Uint64N(uint64(b.window) + 1))
}

// Window returns the window the last Next drew from: 0 before the first
// Next and after Reset.
func (b *Backoff) Window() time.Duration { return b.window }

// Reset starts the schedule again from Min, after a success.
func (b *Backoff) Reset() { b.window = 0 }
