package metrics_test

import (
	"fmt"
	"io"
	"net/http/httptest"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/wshub/wshub/metrics"
)

func ExampleNewWithRegistry() {
	collector, reg, err := metrics.NewWithRegistry()
	if err != nil {
		panic(err)
	}
	// Pass collector to core.NewHub(core.WithMetrics(collector)) and serve
	// metrics.Handler(reg) on your /metrics route. Here the hub's calls are
	// made by hand.
	collector.IncrementConnections()
	collector.IncrementMessagesSent(3)
	collector.IncrementCloseCode(1001)

	rec := httptest.NewRecorder()
	metrics.Handler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for line := range strings.SplitSeq(string(body), "\n") {
		switch {
		case strings.HasPrefix(line, "wshub_connections_open "),
			strings.HasPrefix(line, "wshub_messages_sent_total "),
			strings.HasPrefix(line, "wshub_close_codes_total"):
			fmt.Println(line)
		}
	}
	// Output:
	// wshub_close_codes_total{code="1001"} 1
	// wshub_connections_open 1
	// wshub_messages_sent_total 3
}

func ExampleWithConstLabels() {
	// Two hubs in one process share a registry, told apart by a label.
	reg := prometheus.NewRegistry()
	chat, err := metrics.New(reg, metrics.WithConstLabels(prometheus.Labels{"hub": "chat"}))
	if err != nil {
		panic(err)
	}
	admin, err := metrics.New(reg, metrics.WithConstLabels(prometheus.Labels{"hub": "admin"}))
	if err != nil {
		panic(err)
	}
	chat.IncrementConnections()
	chat.IncrementConnections()
	admin.IncrementConnections()

	// A third collector with the same labels as the first is refused.
	_, err = metrics.New(reg, metrics.WithConstLabels(prometheus.Labels{"hub": "chat"}))
	fmt.Println(err != nil)

	n, _ := testutil.GatherAndCount(reg, "wshub_connections_open")
	fmt.Println(n, "connection gauges")
	// Output:
	// true
	// 2 connection gauges
}
