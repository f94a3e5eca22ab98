package wshubfx_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubfx"
	"github.com/wshub/wshub/wshubtest"
)

// Config.Rooms turns history on for a prefix: an fx app's client that
// reconnects with its cursor recovers what it missed.
func TestHistoryRoomsFromConfig(t *testing.T) {
	cfg := localConfig()
	cfg.Rooms = map[string]core.RoomOptions{"chat:": {History: core.History{Size: 100}}}
	var rec wshubtest.Recoveries
	var hub *core.Hub
	startApp(t, wshubfx.Module, fx.Supply(cfg),
		fx.Decorate(func() core.Hooks { return wshubtest.JoinFromQuery(&rec) }),
		fx.Populate(&hub))
	n := wshubtest.ServeHub(t, hub)

	room := "chat:fx"
	c := n.DialRoom(t, room, "")
	require.NoError(t, hub.BroadcastToRoom(room, []byte("one")))
	c.AwaitCount(t, room, 1)
	_, cursor, _ := c.Offsets(room)
	require.NoError(t, c.Conn.Close())
	require.NoError(t, hub.BroadcastToRoom(room, []byte("two")))
	require.NoError(t, hub.BroadcastToRoom(room, []byte("three")))

	back := n.DialRoom(t, room, cursor)
	ans := back.AwaitAnswer(t, room)
	assert.True(t, ans.Recovery.Recovered)
	got, _, _ := back.Offsets(room)
	assert.Equal(t, []uint64{2, 3}, got)
	assert.True(t, rec.Await(t, back.Client, room).Recovered, "the hook set in the graph hears of it")

	page, err := hub.History(context.Background(), "cursor:x", core.HistoryQuery{})
	require.ErrorIs(t, err, core.ErrNoHistory, "other prefixes keep none")
	assert.Empty(t, page.Messages)
}

// A core.RoomOptionsFunc in the graph decides instead; with Config.Rooms
// as well the app does not start.
func TestRoomOptionsFuncFromGraph(t *testing.T) {
	var hub *core.Hub
	startApp(t, wshubfx.Module, fx.Supply(localConfig()),
		fx.Supply(core.RoomOptionsFunc(func(room string) core.RoomOptions {
			return core.RoomOptions{History: core.History{Size: 5}}
		})),
		fx.Populate(&hub))
	require.NoError(t, hub.BroadcastToRoom("any", []byte("kept")))
	page, err := hub.History(context.Background(), "any", core.HistoryQuery{})
	require.NoError(t, err)
	require.Len(t, page.Messages, 1)

	cfg := localConfig()
	cfg.Rooms = map[string]core.RoomOptions{"": {History: core.History{Size: 1}}}
	app := fx.New(fx.NopLogger, wshubfx.Module, fx.Supply(cfg),
		fx.Supply(core.RoomOptionsFunc(func(string) core.RoomOptions { return core.RoomOptions{} })),
		fx.Invoke(func(*core.Hub) {}))
	err = app.Err()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "Config.Rooms")
}
