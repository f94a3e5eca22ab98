package memory_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// TestSuite runs the whole adapter suite, each part on a bus of its own
// (see wshubtest.RunAll). The adapter implements every optional interface
// the suite knows, so no part is skipped. Room interest is applied before
// SetRoomInterest returns, so the JoinRace part's answers, sent right
// after a join, reach the new member 1000 times out of 1000.
func TestSuite(t *testing.T) {
	ad := memory.NewBus().NewAdapter()
	require.Equal(t, wshubtest.AllParts(), wshubtest.Parts(ad), "parts the memory adapter runs")
	require.NoError(t, ad.Close())
	wshubtest.RunAll(t, wshubtest.Suite{
		NewBus: func(*testing.T) func(*testing.T) core.Adapter {
			bus := memory.NewBus()
			return func(*testing.T) core.Adapter { return bus.NewAdapter() }
		},
	})
}
