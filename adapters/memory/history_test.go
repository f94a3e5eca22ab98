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
