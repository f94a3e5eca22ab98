package main

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

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
	opts, err := appOptions(settings{addr: "127.0.0.1:0", nodeID: "app-test"}, zaptest.NewLogger(t))
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
		{"/metrics", http.StatusOK, "wshub_connections "},
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
	sendEvent(t, ann, event{Type: "join", Room: "fx", Nick: "ann"})
	next(t, ann, "joined")
	sendEvent(t, bob, event{Type: "join", Room: "fx", Nick: "bob"})
	next(t, ann, "joined")
	sendEvent(t, bob, event{Type: "say", Text: "through fx"})
	assert.Equal(t, event{Type: "said", Room: "fx", Nick: "bob", Text: "through fx", Node: "app-test"}, next(t, ann, "said"))
	sendEvent(t, ann, event{Type: "dance"})
	assert.Equal(t, `unknown "type"; use join, say or leave`, next(t, ann, "error").Text)
	assert.Equal(t, 2, hub.ClientCount())

	// Leave before the app stops, so the drain has nobody to wait for.
	require.NoError(t, ann.Close())
	require.NoError(t, bob.Close())
	require.Eventually(t, func() bool { return hub.ClientCount() == 0 }, 5*time.Second, 5*time.Millisecond)
}
