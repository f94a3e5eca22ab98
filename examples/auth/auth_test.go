package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testSecret = []byte("test-secret")

// startAuth runs the auth server with a hub behind httptest; cleanup stops
// both.
func startAuth(t *testing.T) (*authServer, *httptest.Server) {
	t.Helper()
	s := newAuthServer(testSecret, time.Minute)
	go s.hub.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, s.hub.WaitRunning(ctx))
	srv := httptest.NewServer(s.routes())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, s.hub.Shutdown(ctx))
		srv.Close()
	})
	return s, srv
}

func wsURL(srv *httptest.Server, query string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws" + query
}

// fetchToken asks the server's /token endpoint, as a client would.
func fetchToken(t *testing.T, srv *httptest.Server, query string) string {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + "/token" + query)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body struct {
		Token     string `json:"token"`
		ExpiresAt string `json:"expires_at"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	require.NotEmpty(t, body.Token)
	return body.Token
}

// dialStatus dials and returns the HTTP status of the handshake, closing
// whatever it got.
func dialStatus(t *testing.T, url string, hdr http.Header) int {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(url, hdr)
	if err == nil {
		_ = conn.Close()
	} else {
		require.ErrorIs(t, err, websocket.ErrBadHandshake)
	}
	require.NotNil(t, resp)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func TestRefusedWithoutValidToken(t *testing.T) {
	s, srv := startAuth(t)
	other := &authServer{secret: []byte("another-secret")}
	forged, _, err := other.sign("mallory", time.Minute)
	require.NoError(t, err)
	expired, _, err := s.sign("ann", -time.Minute)
	require.NoError(t, err)
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwt.RegisteredClaims{
		Subject: "eve", ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Minute)),
	}).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	noExp, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: "ann"}).SignedString(testSecret)
	require.NoError(t, err)

	for _, tt := range []struct {
		name  string
		query string
		hdr   http.Header
	}{
		{name: "no token"},
		{name: "garbage", query: "?token=not.a.jwt"},
		{name: "wrong secret", query: "?token=" + forged},
		{name: "expired", query: "?token=" + expired},
		{name: "alg none", query: "?token=" + none},
		{name: "no expiry", query: "?token=" + noExp},
		{name: "garbage header", hdr: http.Header{"Authorization": {"Bearer nope"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, http.StatusUnauthorized, dialStatus(t, wsURL(srv, tt.query), tt.hdr))
		})
	}
	assert.Zero(t, s.hub.ClientCount(), "no connection was upgraded")
}

func TestValidTokenUpgradesAndMessagesFlow(t *testing.T) {
	s, srv := startAuth(t)
	annTok := fetchToken(t, srv, "?user=ann")
	bobTok := fetchToken(t, srv, "?user=bob")

	ann, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, "?token="+annTok), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	defer func() { _ = ann.Close() }()
	bob, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, ""), http.Header{"Authorization": {"Bearer " + bobTok}})
	require.NoError(t, err)
	_ = resp.Body.Close()
	defer func() { _ = bob.Close() }()

	// Each upgrade registers its client on its own goroutine, in no set order.
	require.Eventually(t, func() bool {
		return len(s.hub.GetClientsByUserID("ann")) == 1 && len(s.hub.GetClientsByUserID("bob")) == 1
	}, 5*time.Second, 5*time.Millisecond, "the token's subject is the user ID")

	require.NoError(t, ann.WriteMessage(websocket.TextMessage, []byte("hello")))
	for _, conn := range []*websocket.Conn{ann, bob} {
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, data, err := conn.ReadMessage()
		require.NoError(t, err)
		assert.Equal(t, "ann: hello", string(data))
	}
}

func TestConnectionClosedWhenTokenExpires(t *testing.T) {
	s, srv := startAuth(t)
	// JWT expiry has whole-second precision: a 2s token lives between 1s
	// and 2s, long enough to connect, short enough for a test.
	tok := fetchToken(t, srv, "?user=ann&ttl=2s")
	conn, resp, err := websocket.DefaultDialer.Dial(wsURL(srv, "?token="+tok), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	defer func() { _ = conn.Close() }()
	require.Eventually(t, func() bool { return s.hub.ClientCount() == 1 }, 5*time.Second, 5*time.Millisecond)

	require.NoError(t, conn.SetReadDeadline(time.Now().Add(6*time.Second)))
	start := time.Now()
	for {
		_, _, err := conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		require.ErrorAs(t, err, &ce, "want a close frame")
		assert.Equal(t, CloseTokenExpired, ce.Code)
		assert.Equal(t, "token expired", ce.Text)
		break
	}
	assert.Less(t, time.Since(start), 3*time.Second)
	require.Eventually(t, func() bool { return s.hub.ClientCount() == 0 }, 5*time.Second, 5*time.Millisecond)
}

func TestTokenEndpointValidatesInput(t *testing.T) {
	_, srv := startAuth(t)
	for _, q := range []string{"", "?user=ann&ttl=forever", "?user=ann&ttl=-1s", "?user=ann&ttl=2h"} {
		resp, err := srv.Client().Get(srv.URL + "/token" + q)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "query %q", q)
	}
}
