// Package backoff is the one retry schedule of this module's reconnect and
// retry loops: a window that doubles from Backoff.Min after each failure,
// up to Backoff.Max, and a wait drawn at random from it.
//
// By default each wait is "full jitter" (AWS Architecture Blog,
// "Exponential Backoff And Jitter"): attempt n (from 0) waits a uniformly
// random time in [0, min(Max, Min·2^n)]. Nodes that lost the same broker at
// the same moment spread their retries over the whole window instead of
// hitting the broker together at every step.
//
// There is no floor under a full-jitter wait, on purpose. A single wait may
// be close to zero, but a loop cannot spin: the window doubles with every
// failure, so the expected wait after n failures is Min·2^(n-1), up to
// Max/2, and a wait under 1 ms comes once in Max/1ms draws at the cap (once
// in 400 for the tightest loop here, the Redis receiver's 400 ms). A floor
// would narrow the spread that is the point of the jitter.
//
// A loop that gives up after a fixed number of attempts is different: what
// it must keep is the time its attempts cover (a JetStream leader election,
// say), and full jitter halves that on average. Such a loop sets
// [Backoff.Equal] and draws each wait from the upper half of its window
// ("equal jitter"), which keeps at least half of the time and three
// quarters on average, still spread.
//
// The package starts no goroutines and holds no state of its own:
// randomness comes from math/rand/v2's top-level functions, which are safe
// for concurrent use. A [Backoff] is not safe for concurrent use; each loop
// keeps its own.
package backoff
