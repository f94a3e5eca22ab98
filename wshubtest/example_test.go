package wshubtest_test

import (
	"fmt"
	"testing"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// An adapter package runs the whole suite from one test. Here the
// in-memory bus stands in for the adapter under test: each bus of the
// suite is a new memory.Bus. An adapter over a broker would give each bus
// a subject, channel or topic prefix of its own instead.
func ExampleRunAll() {
	suite := wshubtest.Suite{
		NewBus: func(*testing.T) func(*testing.T) core.Adapter {
			bus := memory.NewBus()
			return func(*testing.T) core.Adapter { return bus.NewAdapter() }
		},
	}
	// In the adapter's package this is func TestWSHub(t *testing.T).
	testWSHub := func(t *testing.T) { wshubtest.RunAll(t, suite) }
	_ = testWSHub

	// Which parts run depends on the optional interfaces the adapter
	// implements. The memory adapter implements all of them; a wrapper
	// that embeds only core.Adapter hides them, and loses those parts.
	ad := memory.NewBus().NewAdapter()
	defer func() { _ = ad.Close() }()
	fmt.Println(wshubtest.Parts(ad))
	fmt.Println(wshubtest.Parts(struct{ core.Adapter }{ad}))
	// Output:
	// [Contract Hubs Presence JoinRace Control Recovery RecoveryRace GapFill LateSubscription PresenceStore Members]
	// [Contract Hubs Presence JoinRace Control]
}
