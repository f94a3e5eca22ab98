package adaptertest

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Spread calls fn(w, i) for every i in [0, n) from workers goroutines,
// worker w taking i = w, w+workers, ...; a worker stops at its first
// error, and tb fails with the errors once every worker has returned.
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
