package wshubfx_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubfx"
	"github.com/wshub/wshub/wshubtest"
)

// Config.Rooms turns member lists on for a prefix: an fx app's hub lists
// the members of its "lobby:" rooms, and presence hooks from two modules
// both hear the arrival.
func TestMemberRoomsFromConfig(t *testing.T) {
	cfg := localConfig()
	cfg.Rooms = map[string]core.RoomOptions{"lobby:": {Presence: core.MemberPresence{Enabled: true}}}
	var ev wshubtest.PresenceEvents
	joins := make(chan core.PresenceEvent, 1)
	var hub *core.Hub
	startApp(t, wshubfx.Module, fx.Supply(cfg),
		fx.Decorate(func() core.Hooks { return ev.Hooks("fx", wshubtest.JoinFromQuery(nil)) }),
		wshubfx.AsHooks("audit", 10, core.Hooks{OnPresenceJoin: func(e core.PresenceEvent) { joins <- e }}),
		fx.Populate(&hub))
	n := wshubtest.ServeHub(t, hub)

	s := n.DialMember(t, "ann", "lobby:1")
	ev.AwaitKinds(t, "lobby:1", "ann", "join")
	select {
	case e := <-joins:
		assert.Equal(t, "ann", e.UserID)
	case <-time.After(5 * time.Second):
		t.Fatal("the second module's hook did not hear the join")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := hub.PresenceStats(ctx, "lobby:1")
	require.NoError(t, err)
	assert.Equal(t, core.PresenceStats{Clients: 1, Users: 1}, st)
	assert.Equal(t, []string{s.Client.ID}, n.MemberIDs(t, "lobby:1"))
	_, err = hub.Presence(ctx, "chat:1")
	assert.ErrorIs(t, err, core.ErrNoPresence, "other prefixes track nothing")
}
