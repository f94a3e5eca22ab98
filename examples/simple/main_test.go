package main

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// With its address taken, the server reports the listen error and stops
// its hub, instead of running silently without a listener.
func TestBusyAddressIsAnError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = ln.Close() }()
	err = run(t.Context(), ln.Addr().String())
	require.ErrorIs(t, err, syscall.EADDRINUSE)
}

// The echo echoes; when ctx ends (the signal), an idle client is closed
// with 1001, a connection that never sent a request is closed too, and
// run returns nil.
func TestEchoThenCleanStop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(ctx, addr) }()

	var ws *websocket.Conn
	require.Eventually(t, func() bool {
		c, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
		if resp != nil {
			_ = resp.Body.Close()
		}
		ws = c
		return err == nil
	}, 10*time.Second, 10*time.Millisecond)
	defer func() { _ = ws.Close() }()
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte("hello")))
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, got, err := ws.ReadMessage()
	require.NoError(t, err)
	assert.Equal(t, "hello", string(got))

	spare, err := net.Dial("tcp", addr) // never sends a request
	require.NoError(t, err)
	defer func() { _ = spare.Close() }()

	cancel()
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(drainFor+shutdownFor)))
	_, _, err = ws.ReadMessage()
	assert.True(t, websocket.IsCloseError(err, websocket.CloseGoingAway), "%v", err)
	require.NoError(t, <-done)
	require.NoError(t, spare.SetReadDeadline(time.Now().Add(10*time.Second)))
	_, err = spare.Read(make([]byte, 1))
	assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET), "spare connection closed: %v", err)
}
