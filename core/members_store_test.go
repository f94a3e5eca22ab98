package core_test

import (
	"testing"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

func TestMemoryPresenceStore(t *testing.T) {
	wshubtest.RunPresenceStore(t, func(*testing.T) core.PresenceAdapter { return core.NewMemoryPresence() })
}
