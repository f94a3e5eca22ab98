package main

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubfx"
)

func TestAppGraphIsValid(t *testing.T) {
	for _, tt := range []struct {
		name string
		give settings
	}{
		{"single node", settings{addr: "127.0.0.1:0"}},
		{"nats", settings{addr: "127.0.0.1:0", natsURL: "nats://127.0.0.1:4222"}},
		{"redis", settings{addr: "127.0.0.1:0", redisURL: "redis://127.0.0.1:6379"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := appOptions(tt.give, zap.NewNop())
			require.NoError(t, err)
			assert.NoError(t, fx.ValidateApp(opts, fx.NopLogger))
		})
	}
	_, err := appOptions(settings{natsURL: "nats://x", redisURL: "redis://y"}, zap.NewNop())
	assert.Error(t, err, "two brokers at once")
}

// TestAppServesChat starts the real fx application on a free port and
// checks every endpoint, the chat over /ws included, then stops it.
func TestAppServesChat(t *testing.T) {
	obs, logs := observer.New(zapcore.InfoLevel)
	logger := zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), obs))
	opts, err := appOptions(settings{addr: "127.0.0.1:0", nodeID: "app-test"}, logger)
	require.NoError(t, err)
	var (
		srv *wshubfx.Server
		hub *core.Hub
	)
	app := fxtest.New(t, opts, fx.NopLogger, fx.Populate(&srv, &hub))
	app.RequireStart()
	defer app.RequireStop()
	base := "http://" + srv.Addr()

	for _, tt := range []struct {
		path     string
		want     int
		wantBody string
	}{
		{"/", http.StatusOK, "<title>wshub chat</title>"},
		{"/healthz", http.StatusOK, `"alive":true`},
		{"/readyz", http.StatusOK, `"ready":true`},
		{"/metrics", http.StatusOK, "wshub_connections_open "},
		{"/nothing", http.StatusNotFound, ""},
	} {
		t.Run(tt.path, func(t *testing.T) {
			resp, err := http.Get(base + tt.path)
			require.NoError(t, err)
			defer func() { _ = resp.Body.Close() }()
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			assert.Equal(t, tt.want, resp.StatusCode)
			assert.Contains(t, string(body), tt.wantBody)
		})
	}

	// The routes contributed through the value group are live, and the
	// decorated router answers unknown types.
	ann, bob := dialChat(t, base), dialChat(t, base)
	assert.Equal(t, event{Type: "hello", Node: "app-test"}, next(t, ann, "hello"), "the chat's hooks are wired")
	sendEvent(t, ann, event{Type: "join", Room: "fx", Nick: "ann"})
	next(t, ann, "joined")
	sendEvent(t, bob, event{Type: "join", Room: "fx", Nick: "bob"})
	next(t, ann, "joined")
	sendEvent(t, bob, event{Type: "say", Text: "through fx"})
	said := nextFrame(t, ann, "said")
	assert.Equal(t, event{Type: "said", Room: "fx", Nick: "bob", Text: "through fx", Node: "app-test"}, said.Event)
	sendEvent(t, ann, event{Type: "dance"})
	assert.Equal(t, `unknown "type"; use join, say or leave`, next(t, ann, "error").Text)
	require.NoError(t, ann.WriteMessage(websocket.TextMessage, []byte("hello")))
	assert.Equal(t, `not JSON; send an object such as {"type":"say","text":"hi"}`, next(t, ann, "error").Text)
	assert.Equal(t, 2, hub.ClientCount())

	// Config.Rooms is wired: the room keeps history, its messages come
	// with cursors, and a client that comes back with its cursor gets
	// what it missed; the app logs the recovery.
	assert.Equal(t, "fx", said.Room)
	require.NotEmpty(t, said.Cursor, "room messages come in the history envelope")
	require.NoError(t, ann.Close())
	next(t, bob, "left")
	sendEvent(t, bob, event{Type: "say", Text: "while ann was away"})
	next(t, bob, "said")
	ann = dialChat(t, base, said.Cursor+":fx")
	sendEvent(t, ann, event{Type: "join", Room: "fx", Nick: "ann"})
	assert.Equal(t, "while ann was away", next(t, ann, "said").Text)
	got, ans := untilAnswer(t, ann)
	assert.True(t, ans.Recovered, "answer %+v (after %+v)", ans, got)
	require.Eventually(t, func() bool { return logs.FilterMessage("chat: recovered").Len() == 1 }, 5*time.Second, 5*time.Millisecond)
	entry := logs.FilterMessage("chat: recovered").All()[0].ContextMap()
	assert.Equal(t, "fx", entry["room"])
	assert.Equal(t, said.Cursor, entry["since"])

	// Config.Rooms tracks members and the presence hooks are wired: once
	// the hub has recorded ann and bob, a newcomer gets both in its list
	// and its arrival is announced to the room.
	require.Eventually(t, func() bool {
		st, err := hub.PresenceStats(context.Background(), "fx")
		return err == nil && st.Users == 2
	}, 5*time.Second, 5*time.Millisecond)
	carl, carlW := joinRoom(t, base, "fx", "carl")
	assert.ElementsMatch(t, []member{{"ann", "ann", "app-test"}, {"bob", "bob", "app-test"}, {"carl", "carl", "app-test"}},
		carlW.members().Members)
	// The announcements of ann's and bob's arrivals are broadcast by a
	// hook after their records are written, so one may still reach carl
	// after his list (a page applies it to the list it has: no change).
	for {
		p := carlW.next()
		if p.User == "carl" {
			assert.Equal(t, presenceEvent{Type: "presence", Room: "fx", Event: "join", User: "carl", Name: "carl", Node: "app-test"}, p)
			break
		}
		require.Equal(t, "join", p.Event, "only a late arrival of a listed member may come first: %+v", p)
		require.Contains(t, []string{"ann", "bob"}, p.User, "only a late arrival of a listed member may come first: %+v", p)
	}

	// Leave before the app stops, so the drain has nobody to wait for.
	require.NoError(t, ann.Close())
	require.NoError(t, bob.Close())
	require.NoError(t, carl.Close())
	require.Eventually(t, func() bool { return hub.ClientCount() == 0 }, 5*time.Second, 5*time.Millisecond)
}
