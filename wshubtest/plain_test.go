package wshubtest_test

import (
	"testing"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// plain hides every optional interface of the adapter it wraps.
type plain struct{ core.Adapter }

// historyOnly shows only core.HistoryAdapter of the adapter it wraps: no
// batches, room interest or health for the kit's wrappers to forward.
type historyOnly struct {
	core.Adapter
	core.HistoryAdapter
}

// TestRunAllWithoutExtensions: adapters with few optional interfaces pass
// the parts they get, and the others are skipped (go test -v lists them).
func TestRunAllWithoutExtensions(t *testing.T) {
	tests := []struct {
		name string
		wrap func(*memory.Adapter) core.Adapter
	}{
		{name: "plain", wrap: func(a *memory.Adapter) core.Adapter { return plain{a} }},
		{name: "history only", wrap: func(a *memory.Adapter) core.Adapter { return historyOnly{a, a} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wshubtest.RunAll(t, wshubtest.Suite{
				NewBus: func(*testing.T) func(*testing.T) core.Adapter {
					bus := memory.NewBus()
					return func(*testing.T) core.Adapter { return tt.wrap(bus.NewAdapter()) }
				},
				JoinRaceTries: 100, // the memory bus's own test runs 1000
			})
		})
	}
}
