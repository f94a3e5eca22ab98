package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

const waitFor = 10 * time.Second

// eventually waits until the collector m reaches want; on failure it
// reports the last value seen.
func eventually(t *testing.T, m prometheus.Collector, want float64, name string) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		assert.InDelta(c, want, testutil.ToFloat64(m), 0, "%s", name)
	}, waitFor, 5*time.Millisecond, "%s never reached %v", name, want)
}

// dialHub connects a client the test reads itself.
func dialHub(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.DialContext(t.Context(), url, nil)
	require.NoError(t, err)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func readText(t *testing.T, conn *websocket.Conn) string {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(waitFor)))
	typ, data, err := conn.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, websocket.TextMessage, typ)
	return string(data)
}

// TestRealHubTraffic drives a real hub over real sockets and checks that
// every hub event the test causes shows up in the Prometheus metrics.
func TestRealHubTraffic(t *testing.T) {
	c, reg := newTestCollector(t)

	n := wshubtest.StartHub(t,
		core.WithMetrics(c),
		core.WithMessageHandler(func(cl *core.Client, m *core.Message) error {
			if string(m.Data) == "join" {
				if err := cl.Hub().JoinRoom(cl, "lobby"); err != nil {
					return err
				}
				return cl.SendText("joined")
			}
			return cl.Hub().BroadcastToRoom("lobby", m.Data)
		}),
	)

	a := dialHub(t, n.URL("/"))
	b := dialHub(t, n.URL("/"))
	eventually(t, c.connectionsOpen, 2, "connections_open")
	assert.InDelta(t, 2, testutil.ToFloat64(c.connectionsAccepted), 0)

	// Both join the room "lobby"; the hub answers each with "joined".
	for _, conn := range []*websocket.Conn{a, b} {
		require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("join")))
		assert.Equal(t, "joined", readText(t, conn))
	}
	assert.InDelta(t, 2, testutil.ToFloat64(c.roomJoins), 0)
	assert.InDelta(t, 1, testutil.ToFloat64(c.rooms), 0)

	// a sends one message; the handler broadcasts it to the room, a and b.
	require.NoError(t, a.WriteMessage(websocket.TextMessage, []byte("hello")))
	assert.Equal(t, "hello", readText(t, a))
	assert.Equal(t, "hello", readText(t, b))

	assert.InDelta(t, 3, testutil.ToFloat64(c.messagesReceived), 0)
	// The write pump counts after its flush, which may land just after the
	// client has read the frame: 2 "joined" and 2 "hello".
	eventually(t, c.messagesSent, 4, "messages_sent_total")
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP wshub_message_size_bytes Size of inbound messages in bytes.
# TYPE wshub_message_size_bytes histogram
wshub_message_size_bytes_bucket{le="64"} 3
wshub_message_size_bytes_bucket{le="256"} 3
wshub_message_size_bytes_bucket{le="1024"} 3
wshub_message_size_bytes_bucket{le="4096"} 3
wshub_message_size_bytes_bucket{le="16384"} 3
wshub_message_size_bytes_bucket{le="65536"} 3
wshub_message_size_bytes_bucket{le="262144"} 3
wshub_message_size_bytes_bucket{le="1.048576e+06"} 3
wshub_message_size_bytes_bucket{le="+Inf"} 3
wshub_message_size_bytes_sum 13
wshub_message_size_bytes_count 3
`), "wshub_message_size_bytes"))
	// The hub records a handler's latency after the handler returns, which
	// may be after its reply reached the client.
	require.Eventually(t, func() bool { return histogramCount(t, reg, "wshub_handler_duration_seconds") == 3 },
		waitFor, time.Millisecond, "handler_duration_seconds count")
	assert.GreaterOrEqual(t, histogramCount(t, reg, "wshub_broadcast_duration_seconds"), uint64(1))

	// a leaves politely (close code 1000); b's connection just drops (the
	// hub records 1006, abnormal closure).
	require.NoError(t, a.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, "bye"), time.Now().Add(waitFor)))
	eventually(t, c.connectionsOpen, 1, "connections after a left")
	require.NoError(t, b.Close())
	eventually(t, c.connectionsOpen, 0, "connections after b left")

	assert.InDelta(t, 2, testutil.ToFloat64(c.connectionsAccepted), 0)
	assert.InDelta(t, 2, testutil.ToFloat64(c.roomLeaves), 0)
	assert.Zero(t, testutil.ToFloat64(c.rooms), "the empty room is gone")
	assert.InDelta(t, 1, testutil.ToFloat64(c.closeCodes.WithLabelValues("1000")), 0)
	assert.InDelta(t, 1, testutil.ToFloat64(c.closeCodes.WithLabelValues("1006")), 0)
	assert.Zero(t, testutil.ToFloat64(c.messagesDropped))
	assert.Zero(t, testutil.CollectAndCount(c.errors), "no errors expected")

	// And the same numbers reach a scraper.
	body := scrape(t, reg)
	assert.Contains(t, body, "\nwshub_connections_accepted_total 2\n")
	assert.Contains(t, body, "\nwshub_messages_received_total 3\n")
	assert.Contains(t, body, "\nwshub_messages_sent_total 4\n")
	assert.Contains(t, body, "\nwshub_room_joins_total 2\n")
	assert.Contains(t, body, "\nwshub_connections_open 0\n")
}

func histogramCount(t *testing.T, g prometheus.Gatherer, name string) uint64 {
	t.Helper()
	families, err := g.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() == name {
			require.Len(t, f.GetMetric(), 1)
			return f.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("%s not gathered", name)
	return 0
}

func scrape(t *testing.T, g prometheus.Gatherer) string {
	t.Helper()
	srv := httptest.NewServer(Handler(g))
	defer srv.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}
