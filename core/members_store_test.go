package core_test

import (
	"testing"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/adaptertest"
)

func TestMemoryPresenceStore(t *testing.T) {
	adaptertest.RunPresenceStore(t, func(*testing.T) core.PresenceAdapter { return core.NewMemoryPresence() })
}
