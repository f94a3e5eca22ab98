package metrics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// TestBytesCounters checks the byte counters against the exact frames a
// client and an echoing hub exchange over a real socket.
func TestBytesCounters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		give     int // payload size
		wantSent int // the echo: server frames are unmasked
		wantRecv int // the client's frame: masked, 4 more bytes
	}{
		{name: "short", give: 5, wantSent: 2 + 5, wantRecv: 2 + 4 + 5},
		{name: "16-bit length", give: 1000, wantSent: 4 + 1000, wantRecv: 4 + 4 + 1000},
		// Above the write pump's directWriteSize: written with writev.
		{name: "64-bit length", give: 70000, wantSent: 10 + 70000, wantRecv: 10 + 4 + 70000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, reg := newTestCollector(t)
			n := wshubtest.StartHub(t,
				core.WithMetrics(c),
				core.WithMessageHandler(func(cl *core.Client, m *core.Message) error {
					return cl.SendMessage(m.Type, m.Data)
				}),
			)
			// A write buffer that holds the message, so that the client
			// sends it as one frame.
			conn := dial(t, &websocket.Dialer{WriteBufferSize: 128 << 10}, n.URL("/"))
			eventually(t, c.connectionsOpen, 1, "connections_open")
			assert.Zero(t, testutil.ToFloat64(c.bytesSent), "nothing written before the first message")
			assert.Zero(t, testutil.ToFloat64(c.bytesReceived), "nothing read before the first message")

			msg := strings.Repeat("x", tt.give)
			require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(msg)))
			assert.Equal(t, msg, readText(t, conn))
			eventually(t, c.bytesReceived, float64(tt.wantRecv), "bytes_received_total")
			// The write pump counts after its write returned, which may be
			// just after the client read the frame.
			eventually(t, c.bytesSent, float64(tt.wantSent), "bytes_sent_total")

			// The client's close frame (2 + 4 + 2 bytes for the code) is
			// read, and the hub's answer (2 + 2) written.
			require.NoError(t, conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(waitFor)))
			eventually(t, c.connectionsOpen, 0, "connections_open after close")
			eventually(t, c.bytesReceived, float64(tt.wantRecv+8), "bytes_received_total after close")
			eventually(t, c.bytesSent, float64(tt.wantSent+4), "bytes_sent_total after close")

			body := scrape(t, reg)
			assert.Contains(t, body, "\nwshub_bytes_sent_total ")
			assert.Contains(t, body, "\nwshub_bytes_received_total ")
		})
	}
}

// TestBytesSentCompressed shows that bytes_sent_total counts what goes on
// the wire: a compressible message costs fewer bytes than its payload.
func TestBytesSentCompressed(t *testing.T) {
	t.Parallel()
	c, _ := newTestCollector(t)
	n := wshubtest.StartHub(t,
		core.WithMetrics(c),
		core.WithConfig(core.DefaultConfig().WithCompression(true)),
	)
	conn := dial(t, &websocket.Dialer{EnableCompression: true}, n.URL("/"))
	eventually(t, c.connectionsOpen, 1, "connections_open")

	msg := strings.Repeat("wshub ", 1000)
	n.Hub.BroadcastText(msg)
	assert.Equal(t, msg, readText(t, conn))
	require.EventuallyWithT(t, func(ct *assert.CollectT) {
		sent := testutil.ToFloat64(c.bytesSent)
		assert.Positive(ct, sent)
		assert.Less(ct, sent, float64(len(msg)))
	}, waitFor, 5*time.Millisecond, "compressed bytes on the wire")
}

// TestClusterNodesGauge runs two hubs with presence on the in-memory
// adapter: each gauge counts both nodes once their heartbeats crossed, and
// the first falls back to 1 when the second says goodbye.
func TestClusterNodesGauge(t *testing.T) {
	t.Parallel()
	const interval = 20 * time.Millisecond
	bus := memory.NewBus()
	ca, _ := newTestCollector(t)
	cb, _ := newTestCollector(t)
	assert.InDelta(t, 1, testutil.ToFloat64(ca.clusterNodes), 0, "1 before presence runs")

	wshubtest.StartHubNode(t, "a", bus.NewAdapter(), core.WithMetrics(ca), core.WithPresence(interval))
	b := wshubtest.StartHubNode(t, "b", bus.NewAdapter(), core.WithMetrics(cb), core.WithPresence(interval))

	eventually(t, ca.clusterNodes, 2, "cluster_nodes of a")
	eventually(t, cb.clusterNodes, 2, "cluster_nodes of b")

	// b's goodbye makes a forget it at once, well before an eviction
	// (three silent intervals) would. (The kit's cleanup stops b again: a
	// second Shutdown returns at once.)
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	require.NoError(t, b.Hub.Shutdown(ctx))
	eventually(t, ca.clusterNodes, 1, "cluster_nodes of a after b left")
}

// TestClusterNodesGaugeEviction: a node that falls silent without a
// goodbye (its broker link is gone) is evicted and no longer counted.
func TestClusterNodesGaugeEviction(t *testing.T) {
	t.Parallel()
	const interval = 20 * time.Millisecond
	bus := memory.NewBus()
	ca, _ := newTestCollector(t)
	cb, _ := newTestCollector(t)
	wshubtest.StartHubNode(t, "a", bus.NewAdapter(), core.WithMetrics(ca), core.WithPresence(interval))
	adB := bus.NewAdapter()
	wshubtest.StartHubNode(t, "b", adB, core.WithMetrics(cb), core.WithPresence(interval))

	eventually(t, ca.clusterNodes, 2, "cluster_nodes of a")
	// Closing b's adapter under it silences b: its heartbeats and its
	// goodbye fail from now on.
	require.NoError(t, adB.Close())
	eventually(t, ca.clusterNodes, 1, "cluster_nodes of a after evicting b")
}

func TestClusterNodesWithoutPresence(t *testing.T) {
	t.Parallel()
	c, reg := newTestCollector(t)
	wshubtest.StartHub(t, core.WithMetrics(c))
	assert.Contains(t, scrape(t, reg), "\nwshub_cluster_nodes 1\n")
}

// dial connects a client with d; the connection closes when the test ends.
func dial(t *testing.T, d *websocket.Dialer, url string) *websocket.Conn {
	t.Helper()
	conn, resp, err := d.DialContext(t.Context(), url, nil)
	require.NoError(t, err)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}
