package metrics

import (
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// allNames lists every metric a Collector registers, without namespace.
var allNames = []string{
	"connections_open", "rooms", "cluster_nodes",
	"connections_accepted_total", "bytes_sent_total", "bytes_received_total",
	"messages_received_total", "messages_sent_total",
	"messages_dropped_total", "room_joins_total", "room_leaves_total",
	"errors_total",
	"adapter_published_total", "adapter_received_total",
	"adapter_errors_total", "adapter_dropped_total",
	"adapter_lost_total", "adapter_reordered_total", "adapter_duplicates_total",
	"close_codes_total",
	"message_size_bytes", "handler_duration_seconds", "broadcast_duration_seconds",
}

func newTestCollector(t *testing.T, opts ...Option) (*Collector, *prometheus.Registry) {
	t.Helper()
	c, reg, err := NewWithRegistry(opts...)
	require.NoError(t, err)
	return c, reg
}

func TestCountersAndGauges(t *testing.T) {
	t.Parallel()
	c, _ := newTestCollector(t)

	c.IncrementConnections()
	c.IncrementConnections()
	c.IncrementConnections()
	c.DecrementConnections()
	c.IncrementMessagesReceived()
	c.IncrementMessagesReceived()
	c.IncrementMessagesSent(5)
	c.IncrementMessagesSent(0)  // ignored
	c.IncrementMessagesSent(-3) // ignored, must not panic
	c.IncrementMessagesDropped()
	c.IncrementRoomJoins()
	c.IncrementRoomJoins()
	c.IncrementRoomLeaves()
	c.IncrementRooms()
	c.IncrementRooms()
	c.DecrementRooms()
	c.IncrementAdapterPublished(7)
	c.IncrementAdapterReceived(4)
	c.IncrementAdapterDropped(2)
	c.IncrementAdapterDropped(-1) // ignored
	c.IncrementAdapterLost(6)
	c.IncrementAdapterLost(0) // ignored
	c.IncrementAdapterReordered(3)
	c.IncrementAdapterDuplicates(1)
	c.AddBytesSent(100)
	c.AddBytesSent(28)
	c.AddBytesSent(-5) // ignored, must not panic
	c.AddBytesReceived(64)
	c.AddBytesReceived(0) // ignored

	tests := []struct {
		name string
		give prometheus.Collector
		want float64
	}{
		{"connections_open", c.connectionsOpen, 2},
		{"connections_accepted_total", c.connectionsAccepted, 3},
		{"messages_received_total", c.messagesReceived, 2},
		{"messages_sent_total", c.messagesSent, 5},
		{"messages_dropped_total", c.messagesDropped, 1},
		{"room_joins_total", c.roomJoins, 2},
		{"room_leaves_total", c.roomLeaves, 1},
		{"rooms", c.rooms, 1},
		{"adapter_published_total", c.adapterPublished, 7},
		{"adapter_received_total", c.adapterReceived, 4},
		{"adapter_dropped_total", c.adapterDropped.WithLabelValues("unknown"), 2},
		{"adapter_lost_total", c.adapterLost, 6},
		{"adapter_reordered_total", c.adapterReordered, 3},
		{"adapter_duplicates_total", c.adapterDups, 1},
		{"bytes_sent_total", c.bytesSent, 128},
		{"bytes_received_total", c.bytesReceived, 64},
		{"cluster_nodes", c.clusterNodes, 1},
	}
	for _, tt := range tests {
		assert.InDelta(t, tt.want, testutil.ToFloat64(tt.give), 0, tt.name)
	}
}

func TestLabelledCounters(t *testing.T) {
	t.Parallel()
	c, reg := newTestCollector(t)

	c.IncrementErrors("panic")
	c.IncrementErrors("write")
	c.IncrementErrors("write")
	c.IncrementAdapterErrors("publish")
	c.IncrementAdapterErrors("decode")
	c.IncrementAdapterErrors("decode")
	c.IncrementCloseCode(1000)
	c.IncrementCloseCode(1001)
	c.IncrementCloseCode(1001)
	c.IncrementCloseCode(4000)
	c.IncrementAdapterDroppedReason(core.DropLinkDown, 5)
	c.IncrementAdapterDroppedReason(core.DropQueueFull, 1)
	c.IncrementAdapterDropped(2)

	want := `
# HELP wshub_adapter_dropped_total Messages dropped before reaching the broker, by reason (queue_full, link_down, stale, stopped, store_failed).
# TYPE wshub_adapter_dropped_total counter
wshub_adapter_dropped_total{reason="link_down"} 5
wshub_adapter_dropped_total{reason="queue_full"} 1
wshub_adapter_dropped_total{reason="stale"} 0
wshub_adapter_dropped_total{reason="stopped"} 0
wshub_adapter_dropped_total{reason="store_failed"} 0
wshub_adapter_dropped_total{reason="unknown"} 2
# HELP wshub_errors_total Errors counted by the hub, by kind.
# TYPE wshub_errors_total counter
wshub_errors_total{type="panic"} 1
wshub_errors_total{type="write"} 2
# HELP wshub_adapter_errors_total Failed adapter operations and rejected bus messages, by operation.
# TYPE wshub_adapter_errors_total counter
wshub_adapter_errors_total{op="decode"} 2
wshub_adapter_errors_total{op="publish"} 1
# HELP wshub_close_codes_total Closed connections by WebSocket close code.
# TYPE wshub_close_codes_total counter
wshub_close_codes_total{code="1000"} 1
wshub_close_codes_total{code="1001"} 2
wshub_close_codes_total{code="4000"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"wshub_errors_total", "wshub_adapter_errors_total", "wshub_close_codes_total", "wshub_adapter_dropped_total"))
}

// Codes outside 1000-1015 come from applications or from any peer: past
// 64 distinct ones they share the label "other", so a peer cannot grow the
// series without bound; standard codes keep their own.
func TestCloseCodeLabelsBounded(t *testing.T) {
	t.Parallel()
	c, _ := newTestCollector(t)
	for code := 3000; code < 3200; code++ {
		c.IncrementCloseCode(code)
	}
	c.IncrementCloseCode(3000) // a code seen before keeps its label
	c.IncrementCloseCode(1011)
	assert.Equal(t, maxPrivateCloseCodes+2, testutil.CollectAndCount(c.closeCodes))
	assert.InDelta(t, 2, testutil.ToFloat64(c.closeCodes.WithLabelValues("3000")), 0)
	assert.InDelta(t, 200-maxPrivateCloseCodes, testutil.ToFloat64(c.closeCodes.WithLabelValues("other")), 0)
	assert.InDelta(t, 1, testutil.ToFloat64(c.closeCodes.WithLabelValues("1011")), 0)
}

func TestHistograms(t *testing.T) {
	t.Parallel()
	c, reg := newTestCollector(t, WithBuckets([]float64{0.001, 0.01, 0.1}), WithSizeBuckets([]float64{100, 1000}))

	c.RecordMessageSize(50)
	c.RecordMessageSize(500)
	c.RecordMessageSize(5000)
	c.RecordLatency(500 * time.Microsecond)
	c.RecordLatency(50 * time.Millisecond)
	c.RecordBroadcastDuration(2 * time.Millisecond)

	want := `
# HELP wshub_message_size_bytes Size of inbound messages in bytes.
# TYPE wshub_message_size_bytes histogram
wshub_message_size_bytes_bucket{le="100"} 1
wshub_message_size_bytes_bucket{le="1000"} 2
wshub_message_size_bytes_bucket{le="+Inf"} 3
wshub_message_size_bytes_sum 5550
wshub_message_size_bytes_count 3
# HELP wshub_handler_duration_seconds Time the message handler took, in seconds.
# TYPE wshub_handler_duration_seconds histogram
wshub_handler_duration_seconds_bucket{le="0.001"} 1
wshub_handler_duration_seconds_bucket{le="0.01"} 1
wshub_handler_duration_seconds_bucket{le="0.1"} 2
wshub_handler_duration_seconds_bucket{le="+Inf"} 2
wshub_handler_duration_seconds_sum 0.0505
wshub_handler_duration_seconds_count 2
# HELP wshub_broadcast_duration_seconds Time one local fan-out took, in seconds.
# TYPE wshub_broadcast_duration_seconds histogram
wshub_broadcast_duration_seconds_bucket{le="0.001"} 0
wshub_broadcast_duration_seconds_bucket{le="0.01"} 1
wshub_broadcast_duration_seconds_bucket{le="0.1"} 1
wshub_broadcast_duration_seconds_bucket{le="+Inf"} 1
wshub_broadcast_duration_seconds_sum 0.002
wshub_broadcast_duration_seconds_count 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"wshub_message_size_bytes", "wshub_handler_duration_seconds", "wshub_broadcast_duration_seconds"))
}

func TestEveryMetricRegisteredWithHelp(t *testing.T) {
	t.Parallel()
	c, reg := newTestCollector(t)
	// Labelled counters have no series until first use.
	c.IncrementErrors("panic")
	c.IncrementAdapterErrors("publish")
	c.IncrementCloseCode(1000)

	families, err := reg.Gather()
	require.NoError(t, err)
	got := map[string]*dto.MetricFamily{}
	for _, f := range families {
		got[f.GetName()] = f
	}
	assert.Len(t, got, len(allNames))
	for _, name := range allNames {
		f, ok := got["wshub_"+name]
		if assert.True(t, ok, "wshub_%s not gathered", name) {
			assert.NotEmpty(t, f.GetHelp(), "wshub_%s has no help", name)
		}
	}
}

func TestNamingOptions(t *testing.T) {
	t.Parallel()
	c, reg := newTestCollector(t,
		WithNamespace("app"), WithSubsystem("chat"),
		WithConstLabels(prometheus.Labels{"hub": "a"}), WithConstLabels(prometheus.Labels{"zone": "z1"}))
	c.IncrementConnections()
	c.IncrementErrors("panic")

	want := `
# HELP app_chat_connections_open WebSocket connections open now.
# TYPE app_chat_connections_open gauge
app_chat_connections_open{hub="a",zone="z1"} 1
# HELP app_chat_errors_total Errors counted by the hub, by kind.
# TYPE app_chat_errors_total counter
app_chat_errors_total{hub="a",type="panic",zone="z1"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"app_chat_connections_open", "app_chat_errors_total"))
	n, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)
	assert.Positive(t, n)
}

func TestNilRegisterer(t *testing.T) {
	t.Parallel()
	c, err := New(nil)
	require.ErrorIs(t, err, ErrNilRegisterer)
	assert.Nil(t, c)
}

func TestInvalidOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give Option
		want error
	}{
		{"empty buckets", WithBuckets(nil), ErrInvalidBuckets},
		{"decreasing buckets", WithBuckets([]float64{1, 0.5}), ErrInvalidBuckets},
		{"repeated size bucket", WithSizeBuckets([]float64{1, 1}), ErrInvalidBuckets},
		{"le label", WithConstLabels(prometheus.Labels{"le": "x"}), ErrReservedLabel},
		{"type label", WithConstLabels(prometheus.Labels{"type": "x"}), ErrReservedLabel},
		{"code label", WithConstLabels(prometheus.Labels{"code": "x"}), ErrReservedLabel},
		{"native factor 1", WithNativeHistograms(1), ErrInvalidBucketFactor},
		{"native factor below 1", WithNativeHistograms(0.5), ErrInvalidBucketFactor},
		{"native factor NaN", WithNativeHistograms(math.NaN()), ErrInvalidBucketFactor},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewRegistry()
			var c *Collector
			var err error
			require.NotPanics(t, func() { c, err = New(reg, tt.give) })
			require.ErrorIs(t, err, tt.want)
			assert.Nil(t, c)
			n, gerr := testutil.GatherAndCount(reg)
			require.NoError(t, gerr)
			assert.Zero(t, n, "nothing may stay registered")
		})
	}
}

func TestInvalidLabelNameIsAnError(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	// Any UTF-8 is a valid label name nowadays; invalid UTF-8 is not.
	c, err := New(reg, WithConstLabels(prometheus.Labels{"\xff": "x"}))
	require.Error(t, err)
	assert.Nil(t, c)
	n, gerr := testutil.GatherAndCount(reg)
	require.NoError(t, gerr)
	assert.Zero(t, n)
}

func TestSecondCollectorSameLabelsFails(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	first, err := New(reg)
	require.NoError(t, err)
	first.IncrementConnections()
	before, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)

	second, err := New(reg)
	require.Error(t, err)
	assert.Nil(t, second)
	var are prometheus.AlreadyRegisteredError
	require.ErrorAs(t, err, &are)
	assert.Contains(t, err.Error(), "wshub_connections_open")

	// The first collector is untouched and still exported.
	after, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)
	assert.Equal(t, before, after)
	assert.InDelta(t, 1, testutil.ToFloat64(first.connectionsOpen), 0)
}

func TestRegistrationIsAllOrNothing(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	// Something else already owns a name the collector registers late,
	// with the same help and labels, so the registry calls it the same
	// metric.
	squatter := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "wshub", Name: "adapter_duplicates_total",
		Help: "Messages of other nodes that arrived twice.",
	})
	require.NoError(t, reg.Register(squatter))

	c, err := New(reg)
	require.Error(t, err)
	assert.Nil(t, c)
	var are prometheus.AlreadyRegisteredError
	require.ErrorAs(t, err, &are)
	assert.Same(t, squatter, are.ExistingCollector)

	// Only the squatter remains: everything registered before the clash
	// was taken back.
	families, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, families, 1)
	assert.Equal(t, "wshub_adapter_duplicates_total", families[0].GetName())

	// And once the squatter leaves, a collector registers fine.
	require.True(t, reg.Unregister(squatter))
	_, err = New(reg)
	require.NoError(t, err)
}

func TestTwoHubsDistinctConstLabels(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	a, err := New(reg, WithConstLabels(prometheus.Labels{"hub": "a"}))
	require.NoError(t, err)
	b, err := New(reg, WithConstLabels(prometheus.Labels{"hub": "b"}))
	require.NoError(t, err)

	a.IncrementConnections()
	b.IncrementConnections()
	b.IncrementConnections()
	a.IncrementErrors("write")
	b.IncrementErrors("write")

	want := `
# HELP wshub_connections_open WebSocket connections open now.
# TYPE wshub_connections_open gauge
wshub_connections_open{hub="a"} 1
wshub_connections_open{hub="b"} 2
# HELP wshub_errors_total Errors counted by the hub, by kind.
# TYPE wshub_errors_total counter
wshub_errors_total{hub="a",type="write"} 1
wshub_errors_total{hub="b",type="write"} 1
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(want),
		"wshub_connections_open", "wshub_errors_total"))
}

func TestTwoHubsDistinctNamespaces(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	_, err := New(reg)
	require.NoError(t, err)
	_, err = New(reg, WithSubsystem("admin"))
	require.NoError(t, err)
}

func TestUnregister(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c, err := New(reg)
	require.NoError(t, err)
	c.Unregister()

	n, err := testutil.GatherAndCount(reg)
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.NotPanics(t, func() { c.IncrementErrors("write") }, "a collector keeps working unexported")

	_, err = New(reg)
	require.NoError(t, err, "the names are free again")
}

func TestConcurrentLabelledUse(t *testing.T) {
	t.Parallel()
	c, _ := newTestCollector(t)

	const goroutines, each = 8, 200
	kinds := []string{"panic", "write", "read", "handler"}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				c.IncrementErrors(kinds[(g+i)%len(kinds)])
				c.IncrementCloseCode(1000 + i%3)
				c.IncrementMessagesSent(1)
			}
		})
	}
	wg.Wait()

	var total float64
	for _, k := range kinds {
		total += testutil.ToFloat64(c.errors.WithLabelValues(k))
	}
	assert.InDelta(t, goroutines*each, total, 0)
	assert.InDelta(t, goroutines*each, testutil.ToFloat64(c.messagesSent), 0)
	assert.Equal(t, 3, testutil.CollectAndCount(c.closeCodes))
}

func TestErrorsWrapWithPrefix(t *testing.T) {
	t.Parallel()
	for _, err := range []error{ErrNilRegisterer, ErrInvalidBuckets, ErrReservedLabel} {
		assert.True(t, strings.HasPrefix(err.Error(), "metrics: "), err)
	}
}

func TestRegistrationClashWithForeignMetric(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	// Same name, different help: not "already registered" but inconsistent.
	foreign := prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "wshub", Name: "rooms", Help: "Someone else's."})
	require.NoError(t, reg.Register(foreign))

	c, err := New(reg)
	require.Error(t, err)
	assert.Nil(t, c)
	assert.Contains(t, err.Error(), "metrics: register wshub_rooms")

	families, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, families, 1, "only the foreign gauge may remain")
	assert.Equal(t, "Someone else's.", families[0].GetHelp())
}

// Concurrent first closes with one new code take one slot and one label.
func TestCloseCodeLabelsConcurrentFirstUse(t *testing.T) {
	t.Parallel()
	c, _ := newTestCollector(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for code := 3000; code < 3000+maxPrivateCloseCodes; code++ {
				c.IncrementCloseCode(code)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, maxPrivateCloseCodes, testutil.CollectAndCount(c.closeCodes), "one series per code, none counted as other")
	assert.InDelta(t, 8, testutil.ToFloat64(c.closeCodes.WithLabelValues("3000")), 0)
}

// Counting a close allocates nothing once its code's label is decided.
func TestCloseCodeCountingDoesNotAllocate(t *testing.T) {
	c, _ := newTestCollector(t)
	for code := 3000; code < 3000+maxPrivateCloseCodes+1; code++ {
		c.IncrementCloseCode(code) // the last one is past the cap: "other"
	}
	for _, code := range []int{1001, 3000, 3000 + maxPrivateCloseCodes} {
		assert.Zero(t, testing.AllocsPerRun(100, func() { c.IncrementCloseCode(code) }), "code %d", code)
	}
}

func TestClusterNodes(t *testing.T) {
	t.Parallel()
	c, _ := newTestCollector(t)
	assert.InDelta(t, 1, testutil.ToFloat64(c.clusterNodes), 0, "this node alone until told otherwise")
	c.SetClusterNodes(3)
	assert.InDelta(t, 3, testutil.ToFloat64(c.clusterNodes), 0)
	c.SetClusterNodes(2)
	assert.InDelta(t, 2, testutil.ToFloat64(c.clusterNodes), 0)
}

// TestNativeHistograms checks that WithNativeHistograms makes every
// histogram a native one as well, with the schema its factor calls for,
// and keeps the classic buckets; and that without it there is none.
func TestNativeHistograms(t *testing.T) {
	t.Parallel()
	histograms := []string{"wshub_message_size_bytes", "wshub_handler_duration_seconds", "wshub_broadcast_duration_seconds"}
	tests := []struct {
		name       string
		give       []Option
		wantNative bool
		wantSchema int32 // the largest with 2^(2^-schema) <= factor
	}{
		{name: "off by default", give: nil},
		{name: "factor 1.1", give: []Option{WithNativeHistograms(DefaultNativeHistogramBucketFactor)}, wantNative: true, wantSchema: 3},
		{name: "factor 2", give: []Option{WithNativeHistograms(2)}, wantNative: true, wantSchema: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, reg := newTestCollector(t, tt.give...)
			c.RecordMessageSize(300)
			c.RecordLatency(3 * time.Millisecond)
			c.RecordBroadcastDuration(time.Millisecond)

			families, err := reg.Gather()
			require.NoError(t, err)
			seen := 0
			for _, f := range families {
				if !slices.Contains(histograms, f.GetName()) {
					continue
				}
				seen++
				h := f.GetMetric()[0].GetHistogram()
				assert.Equal(t, uint64(1), h.GetSampleCount(), f.GetName())
				assert.NotEmpty(t, h.GetBucket(), "%s keeps its classic buckets", f.GetName())
				if !tt.wantNative {
					assert.Nil(t, h.Schema, "%s is classic only", f.GetName())
					continue
				}
				if assert.NotNil(t, h.Schema, "%s is native", f.GetName()) {
					assert.Equal(t, tt.wantSchema, h.GetSchema(), f.GetName())
				}
				assert.NotEmpty(t, h.GetPositiveSpan(), "%s has a native bucket", f.GetName())
			}
			assert.Equal(t, len(histograms), seen)
		})
	}
}
