package wshubfx_test

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubfx"
)

// The hostile-client settings compose from wshubfx: the queue bounds and
// the UTF-8 check through Config.Hub, DisconnectSlow through
// Config.DropPolicy, and an OnSlowClient hook contributed with AsHooks.
func TestSlowClientPolicyThroughFx(t *testing.T) {
	slow := make(chan string, 1) // one slow client
	var hub *core.Hub
	startApp(t, wshubfx.Module,
		fx.Supply(wshubfx.Config{
			Hub:        core.DefaultConfig().WithSendChannelSize(4).WithMaxMessageSize(64 << 10).WithMaxQueuedBytes(64 << 10),
			DropPolicy: core.DisconnectSlow,
		}),
		wshubfx.AsHooks("slow", 0, core.Hooks{OnSlowClient: func(c *core.Client) { slow <- c.ID }}),
		fx.Populate(&hub))
	conn := dialHub(t, hub, serveHub(t, hub))
	c := hub.Clients()[0]

	require.ErrorIs(t, c.SendText("caf\xe9"), core.ErrInvalidUTF8)
	// The client reads nothing: once the socket buffers are full, the
	// queue fills and the client is closed as slow.
	payload := make([]byte, 32<<10)
	require.Eventually(t, func() bool {
		_ = c.SendBinary(payload)
		return c.IsClosed()
	}, waitFor, time.Millisecond)
	codes := closeCode(conn) // now it reads: what was written, then the close
	select {
	case id := <-slow:
		assert.Equal(t, c.ID, id)
	case <-time.After(waitFor):
		t.Fatal("OnSlowClient did not run")
	}
	assert.LessOrEqual(t, c.QueuedBytes(), int64(64<<10+32<<10))
	assert.Equal(t, websocket.CloseTryAgainLater, <-codes)
}
