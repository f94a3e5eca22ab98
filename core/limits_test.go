package core

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMaxConnectionsRefusedBeforeUpgrade(t *testing.T) {
	h, srv := startHub(t, WithLimits(DefaultLimits().WithMaxConnections(1)))
	dialWait(t, h, srv)
	assert.Equal(t, http.StatusServiceUnavailable, httpStatus(t, srv, nil))
}

func TestMaxConnectionsPerUser(t *testing.T) {
	h, _ := startHub(t, WithLimits(DefaultLimits().WithMaxConnectionsPerUser(1)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = h.UpgradeConnection(w, r, WithUserID("u"))
	}))
	t.Cleanup(srv.Close)
	dialWait(t, h, srv)
	assert.Equal(t, http.StatusTooManyRequests, httpStatus(t, srv, nil))
}

func TestSetUserIDLimit(t *testing.T) {
	h, srv := startHub(t, WithLimits(DefaultLimits().WithMaxConnectionsPerUser(1)))
	_, a := dialWait(t, h, srv)
	_, b := dialWait(t, h, srv)
	require.NoError(t, a.SetUserID("u"))
	require.ErrorIs(t, b.SetUserID("u"), ErrMaxUserConnectionsReached)
	require.NoError(t, a.SetUserID("v"))
	require.NoError(t, b.SetUserID("u"))
	assert.Len(t, h.GetClientsByUserID("u"), 1)
	assert.Len(t, h.GetClientsByUserID("v"), 1)
}

// A client admitted before the upgrade but refused after it gets a close
// frame with 1013, not a dropped TCP connection.
func TestRefusedAfterUpgradeGetsCloseFrame(t *testing.T) {
	tests := []struct {
		name string
		give func(h *Hub, other *Client)
		want int
	}{
		{"user limit taken meanwhile", func(_ *Hub, other *Client) { _ = other.SetUserID("u") }, websocket.CloseTryAgainLater},
		{"draining meanwhile", func(h *Hub, _ *Client) {
			h.life.Lock()
			h.state.Store(int32(StateDraining))
			h.life.Unlock()
		}, websocket.CloseGoingAway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, srv := startHub(t, WithLimits(DefaultLimits().WithMaxConnectionsPerUser(1)))
			_, other := dialWait(t, h, srv)
			h.testHookAfterUpgrade = func(*Client) { tt.give(h, other) }
			userSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = h.UpgradeConnection(w, r, WithUserID("u"))
			}))
			t.Cleanup(userSrv.Close)
			conn := dial(t, userSrv)
			assert.Equal(t, tt.want, readClose(t, conn).Code)
		})
	}
}

func TestRateLimitDropsExcess(t *testing.T) {
	m := NewDebugMetrics()
	got := make(chan string, 100)
	h, srv := startHub(t, WithMetrics(m), WithLimits(DefaultLimits().WithMaxMessageRate(5)),
		WithMessageHandler(func(_ *Client, msg *Message) error { got <- msg.Text(); return nil }))
	conn, _ := dialWait(t, h, srv)
	for i := 0; i < 20; i++ {
		require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("x")))
	}
	require.NoError(t, conn.WriteMessage(websocket.PingMessage, nil))
	require.Eventually(t, func() bool {
		s := m.Stats()
		return s.TotalMessagesRecv+s.Errors["rate_limit_exceeded"] == 20
	}, 5*time.Second, time.Millisecond)
	s := m.Stats()
	assert.GreaterOrEqual(t, s.Errors["rate_limit_exceeded"], int64(10))
	assert.LessOrEqual(t, s.TotalMessagesRecv, int64(10))
	// The connection stays open.
	require.NoError(t, h.Clients()[0].Send([]byte("still here")))
	for {
		_, msg := read(t, conn)
		if msg == "still here" {
			break
		}
	}
}

func TestOriginChecks(t *testing.T) {
	_, srv := startHub(t)
	hdr := http.Header{"Origin": []string{"http://evil.example"}}
	assert.Equal(t, http.StatusForbidden, httpStatus(t, srv, hdr))
	same := http.Header{"Origin": []string{srv.URL}}
	assert.Equal(t, http.StatusSwitchingProtocols, httpStatus(t, srv, same))

	allow := AllowOrigins("https://app.example")
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	assert.True(t, allow(r))
	r.Header.Set("Origin", "https://APP.example")
	assert.True(t, allow(r))
	r.Header.Set("Origin", "https://other.example")
	assert.False(t, allow(r))
	assert.True(t, AllowAllOrigins(r))
	r.Host = "other.example"
	assert.True(t, AllowSameOrigin(r))
	r.Header.Set("Origin", "::bad")
	assert.False(t, AllowSameOrigin(r))
}

func TestBeforeConnectRefuses(t *testing.T) {
	_, srv := startHub(t, WithHooks(Hooks{BeforeConnect: func(r *http.Request) error {
		if r.URL.Query().Get("token") == "" {
			return ErrAuthenticationFailed
		}
		return nil
	}}))
	assert.Equal(t, http.StatusForbidden, httpStatus(t, srv, nil))
	conn, resp, err := websocket.DefaultDialer.Dial(wsURL(srv)+"?token=t", nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	_ = conn.Close()
}

func TestSubprotocolServerPreferenceWins(t *testing.T) {
	_, srv := startHub(t, WithConfig(DefaultConfig().WithSubprotocols("v2", "v1")))
	d := websocket.Dialer{Subprotocols: []string{"v1", "v2"}}
	conn, resp, err := d.Dial(wsURL(srv), nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	defer func() { _ = conn.Close() }()
	assert.Equal(t, "v2", conn.Subprotocol())
}

var errBoom = errors.New("boom")
