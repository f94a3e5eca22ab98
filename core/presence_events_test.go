package core

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With MemberPresence.Events the room's clients get a frame per join and
// leave, in order, once each.
func TestPresenceEventFrames(t *testing.T) {
	var ev memberEvents
	rooms := RoomOptionsByPrefix(map[string]RoomOptions{
		"ev-": {Presence: MemberPresence{Enabled: true, Linger: -1, Events: true}},
		"":    {Presence: MemberPresence{Enabled: true, Linger: -1}},
	})
	h, srv := startHub(t, WithRoomOptions(rooms), WithHooks(ev.hooks()))
	u := wsURL(srv)
	watcher, _ := dialQuery(t, h, u, url.Values{"user": {"ann"}, "join": {"ev-1"}})
	quiet, _ := dialQuery(t, h, u, url.Values{"user": {"ann"}, "join": {"plain"}})
	bobConn, _ := dialQuery(t, h, u, url.Values{"user": {"bob"}, "join": {"ev-1", "plain"}})
	require.NoError(t, bobConn.Close())

	type frame struct {
		Presence struct {
			Room, Event, User, Client, Node string
			At                              int64
		}
	}
	var got []string
	for len(got) < 3 {
		_, data := read(t, watcher)
		var f frame
		require.NoError(t, json.Unmarshal([]byte(data), &f), data)
		assert.Equal(t, "ev-1", f.Presence.Room)
		assert.Equal(t, h.NodeID(), f.Presence.Node)
		assert.InDelta(t, time.Now().UnixMilli(), f.Presence.At, 10_000)
		got = append(got, f.Presence.Event+" "+f.Presence.User)
	}
	assert.Equal(t, []string{"join ann", "join bob", "leave bob"}, got)

	// The room without Events sends nothing.
	require.NoError(t, quiet.SetReadDeadline(time.Now().Add(200*time.Millisecond)))
	_, data, err := quiet.ReadMessage()
	require.Error(t, err, "got %s", data)
	var ne interface{ Timeout() bool }
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
}

func TestPresenceEventFrameInfo(t *testing.T) {
	at := time.UnixMilli(1764750000000)
	tests := []struct {
		name string
		join bool
		info string
		want string
	}{
		{"json info", true, `{"name":"Ann"}`, `{"presence":{"room":"r","event":"join","user":"u","client":"c","node":"n","info":{"name":"Ann"},"at":1764750000000}}`},
		{"text info", false, `plain`, `{"presence":{"room":"r","event":"leave","user":"u","client":"c","node":"n","info":"plain","at":1764750000000}}`},
		{"no info", false, ``, `{"presence":{"room":"r","event":"leave","user":"u","client":"c","node":"n","at":1764750000000}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PresenceEventFrame(tt.join, PresenceEvent{Room: "r", UserID: "u", ClientID: "c", NodeID: "n", Info: []byte(tt.info), At: at})
			assert.JSONEq(t, tt.want, string(got))
		})
	}
}
