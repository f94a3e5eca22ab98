package metrics

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHandlerServesMetrics(t *testing.T) {
	t.Parallel()
	c, reg := newTestCollector(t)
	c.IncrementConnections()
	c.IncrementMessagesSent(3)
	c.IncrementCloseCode(1001)

	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()

	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	text := string(body)
	assert.Contains(t, text, "# HELP wshub_connections_open WebSocket connections open now.\n")
	assert.Contains(t, text, "\nwshub_connections_open 1\n")
	assert.Contains(t, text, "\nwshub_messages_sent_total 3\n")
	assert.Contains(t, text, "\nwshub_close_codes_total{code=\"1001\"} 1\n")
}

// TestHandlerServesOpenMetrics scrapes as Prometheus does when it prefers
// OpenMetrics, and checks what it gets: the format, the end marker, and
// that every name is one family (a gauge wshub_x next to a counter
// wshub_x_total would be two families named wshub_x).
func TestHandlerServesOpenMetrics(t *testing.T) {
	t.Parallel()
	c, reg := newTestCollector(t, WithNativeHistograms(DefaultNativeHistogramBucketFactor))
	c.IncrementConnections()
	c.AddBytesSent(12)
	c.AddBytesReceived(34)
	c.RecordLatency(time.Millisecond)
	c.IncrementErrors("write")
	c.IncrementAdapterErrors("publish")
	c.IncrementCloseCode(1000)

	header, body := get(t, Handler(reg), openMetricsAccept)
	assert.True(t, strings.HasPrefix(header.Get("Content-Type"), "application/openmetrics-text; version=1.0.0;"),
		"Content-Type %q", header.Get("Content-Type"))
	assert.True(t, strings.HasSuffix(body, "# EOF\n"), "an OpenMetrics exposition ends with # EOF")

	families, err := parseOpenMetrics(body)
	require.NoError(t, err, "in:\n%s", body)
	for _, name := range allNames {
		name = "wshub_" + name
		_, ok := families[strings.TrimSuffix(name, "_total")]
		assert.True(t, ok, "family of %s missing", name)
	}
	assert.Equal(t, "gauge", families["wshub_connections_open"].typ)
	assert.Equal(t, "counter", families["wshub_connections_accepted"].typ)
	assert.Equal(t, "counter", families["wshub_bytes_sent"].typ)
	assert.Equal(t, "counter", families["wshub_bytes_received"].typ)
	assert.Equal(t, "gauge", families["wshub_cluster_nodes"].typ)
	assert.Equal(t, "histogram", families["wshub_handler_duration_seconds"].typ)
	assert.Contains(t, body, "\nwshub_connections_accepted_total 1.0\n")
	assert.Contains(t, body, "\nwshub_bytes_sent_total 12.0\n")
	assert.Contains(t, body, "\nwshub_bytes_received_total 34.0\n")
	assert.Contains(t, body, "\nwshub_cluster_nodes 1.0\n")
	assert.Contains(t, body, "\nwshub_handler_duration_seconds_count 1\n", "classic buckets kept with native histograms")

	// prometheus/common has no OpenMetrics parser; its decoder reads
	// OpenMetrics 1.0 as the classic text format (counters come out
	// untyped, under their _total name). It must still read the whole
	// exposition, with each name once.
	format := expfmt.ResponseFormat(header)
	dec := expfmt.NewDecoder(strings.NewReader(body), expfmt.NewFormat(expfmt.TypeOpenMetrics))
	decoded := map[string]bool{}
	for {
		var mf dto.MetricFamily
		err := dec.Decode(&mf)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "decoding %s", format)
		assert.False(t, decoded[mf.GetName()], "family %s twice", mf.GetName())
		decoded[mf.GetName()] = true
	}
	assert.True(t, decoded["wshub_connections_open"])
	assert.True(t, decoded["wshub_connections_accepted_total"] || decoded["wshub_connections_accepted"])
}

// TestHandlerTextFormatParses checks the classic text format with the
// official text parser: a scraper that does not ask for OpenMetrics
// still gets it.
func TestHandlerTextFormatParses(t *testing.T) {
	t.Parallel()
	c, reg := newTestCollector(t)
	c.IncrementConnections()
	// Labelled counters have no series until first use.
	c.IncrementErrors("panic")
	c.IncrementAdapterErrors("publish")
	c.IncrementCloseCode(1000)
	header, body := get(t, Handler(reg), "")
	assert.Contains(t, header.Get("Content-Type"), "text/plain")
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err)
	assert.Len(t, families, len(allNames))
	assert.InDelta(t, 1, families["wshub_connections_open"].GetMetric()[0].GetGauge().GetValue(), 0)
	assert.InDelta(t, 1, families["wshub_connections_accepted_total"].GetMetric()[0].GetCounter().GetValue(), 0)
}

// openMetricsAccept is the Accept header of a Prometheus server that
// prefers OpenMetrics 1.0.
const openMetricsAccept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75," +
	"text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

// get requests h with accept as the Accept header (none when empty) and
// returns the response's header and body.
func get(t *testing.T, h http.Handler, accept string) (http.Header, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.Header, string(body)
}

type omFamily struct {
	typ     string
	samples int
}

// omSuffixes are the sample name suffixes OpenMetrics 1.0 allows per
// family type.
var omSuffixes = map[string][]string{
	"counter":   {"_total", "_created"},
	"gauge":     {""},
	"histogram": {"_bucket", "_count", "_sum", "_created"},
	"summary":   {"", "_count", "_sum", "_created"},
	"info":      {"_info"},
	"stateset":  {""},
	"unknown":   {""},
}

// parseOpenMetrics checks, by hand, the rules of OpenMetrics 1.0 that a
// family clash breaks (prometheus/common has no OpenMetrics parser): every
// family is declared once, its samples follow its TYPE line without
// another family in between, and each sample's name is the family's name
// plus a suffix its type allows. It returns the families by name.
func parseOpenMetrics(body string) (map[string]*omFamily, error) {
	families := map[string]*omFamily{}
	var cur string
	lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
	if lines[len(lines)-1] != "# EOF" {
		return nil, errors.New("no # EOF at the end")
	}
	for _, line := range lines[:len(lines)-1] {
		if rest, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, typ, ok := strings.Cut(rest, " ")
			if !ok {
				return nil, fmt.Errorf("bad TYPE line %q", line)
			}
			if _, dup := families[name]; dup {
				return nil, fmt.Errorf("family %s declared twice", name)
			}
			if _, known := omSuffixes[typ]; !known {
				return nil, fmt.Errorf("unknown type in %q", line)
			}
			families[name] = &omFamily{typ: typ}
			cur = name
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue // HELP, UNIT
		}
		name, _, _ := strings.Cut(line, " ")
		name, _, _ = strings.Cut(name, "{")
		if cur == "" {
			return nil, fmt.Errorf("sample %q before any TYPE", line)
		}
		f := families[cur]
		suffix, ok := strings.CutPrefix(name, cur)
		if !ok {
			return nil, fmt.Errorf("sample %q is not of family %s", line, cur)
		}
		if !slices.Contains(omSuffixes[f.typ], suffix) {
			return nil, fmt.Errorf("sample %q: suffix %q not allowed for a %s", line, suffix, f.typ)
		}
		f.samples++
	}
	for name, f := range families {
		if f.samples == 0 {
			return nil, fmt.Errorf("family %s has no samples", name)
		}
	}
	return families, nil
}

// TestOpenMetricsCheckCatchesClash makes sure parseOpenMetrics would have
// caught the clash of the old names: the gauge wshub_connections and the
// counter wshub_connections_total.
func TestOpenMetricsCheckCatchesClash(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		prometheus.NewGauge(prometheus.GaugeOpts{Name: "wshub_connections", Help: "Open."}),
		prometheus.NewCounter(prometheus.CounterOpts{Name: "wshub_connections_total", Help: "Accepted."}),
	)
	_, body := get(t, Handler(reg), openMetricsAccept)
	_, err := parseOpenMetrics(body)
	require.Error(t, err, "in:\n%s", body)
	assert.Contains(t, err.Error(), "wshub_connections")
}
