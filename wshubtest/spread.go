package wshubtest

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Spread calls fn(w, i) for every i in [0, n) from workers goroutines,
// worker w taking i = w, w+workers, ...: a test or benchmark of a store
// or broker under concurrent load (records written by many nodes at once,
// say) spreads its n operations with it. A worker stops at its first
// error; Spread returns once every worker has, and tb then fails with
// the errors, which stops the test. Call it from the test's goroutine.
func Spread(tb testing.TB, workers, n int, fn func(w, i int) error) {
	tb.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := fn(w, i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(tb, err)
	}
}
