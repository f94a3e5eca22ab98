package core

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDrainRefusesAndReapsIdle(t *testing.T) {
	h, srv := startHub(t, WithDrainTimeout(100*time.Millisecond))
	conn, _ := dialWait(t, h, srv)
	ready := httptest.NewServer(h.ReadyHandler())
	defer ready.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.Drain(ctx) }()
	require.Eventually(t, h.IsDraining, 5*time.Second, time.Millisecond)

	resp, err := http.Get(ready.URL)
	require.NoError(t, err)
	var hs HealthStatus
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&hs))
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "draining", hs.State)
	assert.Equal(t, http.StatusServiceUnavailable, httpStatus(t, srv, nil))

	// The idle client is closed with 1001 by the reaper and Drain returns.
	assert.Equal(t, websocket.CloseGoingAway, readClose(t, conn).Code)
	require.NoError(t, <-done)
	require.NoError(t, h.Drain(ctx)) // again: nothing left
}

func TestDrainTimesOutWithBusyClient(t *testing.T) {
	h, srv := startHub(t, WithDrainTimeout(0))
	dialWait(t, h, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, h.Drain(ctx), context.DeadlineExceeded)
	assert.Equal(t, 1, h.ClientCount())
}

func TestHealthHandlers(t *testing.T) {
	h := NewHub()
	live := httptest.NewServer(h.HealthHandler())
	defer live.Close()
	get := func() (int, map[string]any) {
		resp, err := http.Get(live.URL)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		var body map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		return resp.StatusCode, body
	}
	code, body := get()
	assert.Equal(t, http.StatusServiceUnavailable, code)
	for _, k := range []string{"alive", "ready", "state", "uptime_ns", "clients"} {
		assert.Contains(t, body, k)
	}
	go h.Run()
	require.NoError(t, h.WaitRunning(context.Background()))
	code, body = get()
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "running", body["state"])
	assert.True(t, h.Ready())
	require.NoError(t, h.Shutdown(context.Background()))
	code, _ = get()
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, time.Duration(0), h.Uptime())
}

// A second Shutdown waits for the first to finish, or for its own ctx.
func TestSecondShutdownWaitsForFirst(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h, srv := startHub(t, WithHooks(Hooks{BeforeDisconnect: func(*Client) {
		close(entered)
		<-release
	}}))
	conn, _ := dialWait(t, h, srv)
	go func() { _, _, _ = conn.ReadMessage() }() // answers our close frame
	first := make(chan error, 1)
	go func() { first <- h.Shutdown(context.Background()) }()
	<-entered // the first Shutdown is disconnecting the client

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, h.Shutdown(ctx), context.DeadlineExceeded, "returned while the first Shutdown was still running")
	close(release)
	require.NoError(t, <-first)
	require.NoError(t, h.Shutdown(context.Background()), "after the first finished")
	assert.Zero(t, h.ClientCount())
}

// An OnClose callback may call Shutdown while Shutdown runs: the inner call
// does not wait for the outer, which waits for the callback.
func TestShutdownFromOnCloseDuringShutdown(t *testing.T) {
	h, srv := startHub(t)
	conn, c := dialWait(t, h, srv)
	go func() { _, _, _ = conn.ReadMessage() }() // answers our close frame
	inner := make(chan error, 1)
	c.OnClose(func(*Client) { inner <- h.Shutdown(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, h.Shutdown(ctx))
	require.NoError(t, <-inner)
}

// Pings and pongs are not data: a client that only gets pings is idle for
// the drain's reaper, which closes it with 1001.
func TestReaperClosesClientsThatOnlyGetPings(t *testing.T) {
	cfg := DefaultConfig().WithTimeouts(time.Second, 2*time.Second, 100*time.Millisecond)
	h, srv := startHub(t, WithConfig(cfg), WithDrainTimeout(300*time.Millisecond))
	conn, _ := dialWait(t, h, srv)
	closed := make(chan int, 1)
	go func() {
		for {
			if _, _, err := conn.ReadMessage(); err != nil { // answers pings meanwhile
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					closed <- ce.Code
				}
				close(closed)
				return
			}
		}
	}()
	require.NoError(t, h.Drain(contextWithTimeout(t, 10*time.Second)))
	assert.Equal(t, websocket.CloseGoingAway, <-closed)
}
