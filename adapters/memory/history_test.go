package memory_test

import (
	"testing"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/adaptertest"
)

// TestRecoveryOverMemory checks resumable rooms with three hubs on one bus
// (see adaptertest.RunRecovery).
func TestRecoveryOverMemory(t *testing.T) {
	bus := memory.NewBus()
	adaptertest.RunRecovery(t, func(*testing.T) core.Adapter { return bus.NewAdapter() })
}

// TestRecoveryRaceOverMemory drives replay against live traffic (see
// adaptertest.RunRecoveryRace).
func TestRecoveryRaceOverMemory(t *testing.T) {
	bus := memory.NewBus()
	adaptertest.RunRecoveryRace(t, 40, func(*testing.T) core.Adapter { return bus.NewAdapter() })
}

// BenchmarkRecoveryStampede: 1,000 clients reconnect at once after 1,000
// missed messages (see adaptertest.BenchRecoveryStampede).
func BenchmarkRecoveryStampede(b *testing.B) {
	bus := memory.NewBus()
	adaptertest.BenchRecoveryStampede(b, 1000, 1000, func(testing.TB) core.Adapter { return bus.NewAdapter() })
}
