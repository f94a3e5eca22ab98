package memory_test

import (
	"testing"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/adaptertest"
)

func TestPresenceStoreOverMemory(t *testing.T) {
	adaptertest.RunPresenceStore(t, func(*testing.T) core.PresenceAdapter { return memory.NewBus().NewAdapter() })
}

func TestMembersOverMemory(t *testing.T) {
	bus := memory.NewBus()
	adaptertest.RunMembers(t, func(*testing.T) core.Adapter { return bus.NewAdapter() })
}

func TestControlOverMemory(t *testing.T) {
	bus := memory.NewBus()
	adaptertest.RunControl(t, func(*testing.T) core.Adapter { return bus.NewAdapter() })
}

func BenchmarkDisconnectUserOverMemory(b *testing.B) {
	bus := memory.NewBus()
	adaptertest.BenchDisconnectUser(b, func(testing.TB) core.Adapter { return bus.NewAdapter() })
}

// BenchmarkMembers10kOverMemory: 10,000 members on one node (see
// adaptertest.BenchMembers).
func BenchmarkMembers10kOverMemory(b *testing.B) {
	bus := memory.NewBus()
	adaptertest.BenchMembers(b, 10_000, func(testing.TB) core.Adapter { return bus.NewAdapter() })
}
