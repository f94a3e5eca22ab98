package wshubfx_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/metrics"
	"github.com/wshub/wshub/wshubfx"
)

// The usual way to give an fx app a registry: the hub's series land on it
// and /metrics serves it, next to the app's own.
func TestMetricsModuleUsesTheGraphsRegistry(t *testing.T) {
	var reg *prometheus.Registry
	var srv *wshubfx.Server
	app := startApp(t, wshubfx.Module, wshubfx.MetricsModule, wshubfx.HTTPModule,
		fx.Supply(localConfig()),
		fx.Provide(prometheus.NewRegistry),
		fx.Invoke(func(r *prometheus.Registry) {
			r.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "app_things_total", Help: "The app's own."}))
		}),
		fx.Populate(&reg, &srv))

	n, err := testutil.GatherAndCount(reg, "wshub_connections_open", "wshub_bytes_sent_total", "wshub_cluster_nodes")
	require.NoError(t, err)
	assert.Equal(t, 3, n, "the hub's series are on the graph's registry")

	code, body := get(t, "http://"+srv.Addr()+"/metrics")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "\nwshub_connections_open 0\n")
	assert.Contains(t, body, "\napp_things_total 0\n")
	assert.NotContains(t, body, "go_goroutines", "the app's registry is served as is")

	app.RequireStop()
	n, err = testutil.GatherAndCount(reg)
	require.NoError(t, err)
	assert.Equal(t, 1, n, "only the app's own series stay after stop")
}

// What the graph holds decides where the collector registers and what
// /metrics serves; setups that cannot show the hub's series fail to build
// with an error saying what to provide.
func TestMetricsModuleRegistrySetups(t *testing.T) {
	// give builds a case's graph from two new registries: the app's, and
	// another one.
	tests := []struct {
		name    string
		give    func(app, other *prometheus.Registry) fx.Option
		want    string // a series /metrics shows; "" when the graph must fail
		wantErr string
	}{
		{
			name: "registry",
			give: func(app, _ *prometheus.Registry) fx.Option { return fx.Supply(app) },
			want: "\nwshub_connections_open 0\n",
		},
		{
			name: "registry and the same as registerer and gatherer",
			give: func(app, _ *prometheus.Registry) fx.Option {
				return fx.Supply(app, fx.Annotate(app, fx.As(new(prometheus.Registerer)), fx.As(new(prometheus.Gatherer))))
			},
			want: "\nwshub_connections_open 0\n",
		},
		{
			name: "registry and a registerer wrapping it",
			give: func(app, _ *prometheus.Registry) fx.Option {
				wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"hub": "chat"}, app)
				return fx.Supply(app, fx.Annotate(wrapped, fx.As(new(prometheus.Registerer))))
			},
			want: "\nwshub_connections_open{hub=\"chat\"} 0\n",
		},
		{
			name: "registry and a gatherer including it",
			give: func(app, other *prometheus.Registry) fx.Option {
				return fx.Supply(app, fx.Annotate(prometheus.Gatherers{other, app}, fx.As(new(prometheus.Gatherer))))
			},
			want: "\nwshub_connections_open 0\n",
		},
		{
			name: "registry and another registry as registerer",
			give: func(app, other *prometheus.Registry) fx.Option {
				return fx.Supply(app, fx.Annotate(other, fx.As(new(prometheus.Registerer))))
			},
			wantErr: "provide only the *prometheus.Registry",
		},
		{
			name: "registry and another registry as gatherer",
			give: func(app, other *prometheus.Registry) fx.Option {
				return fx.Supply(app, fx.Annotate(other, fx.As(new(prometheus.Gatherer))))
			},
			wantErr: "provide only the *prometheus.Registry",
		},
		{
			name: "registerer and gatherer of different registries",
			give: func(app, other *prometheus.Registry) fx.Option {
				return fx.Supply(fx.Annotate(app, fx.As(new(prometheus.Registerer))),
					fx.Annotate(other, fx.As(new(prometheus.Gatherer))))
			},
			wantErr: "a Gatherer that includes that registry",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var srv *wshubfx.Server
			opts := []fx.Option{wshubfx.Module, wshubfx.MetricsModule, wshubfx.HTTPModule,
				fx.Supply(localConfig()), fx.Populate(&srv),
				tt.give(prometheus.NewRegistry(), prometheus.NewRegistry())}
			if tt.wantErr != "" {
				a := fx.New(append([]fx.Option{fx.NopLogger}, opts...)...)
				require.Error(t, a.Err())
				assert.Contains(t, a.Err().Error(), "wshubfx: metrics:")
				assert.Contains(t, a.Err().Error(), tt.wantErr)
				return
			}
			startApp(t, opts...)
			code, body := get(t, "http://"+srv.Addr()+"/metrics")
			assert.Equal(t, http.StatusOK, code)
			assert.Contains(t, body, tt.want)
		})
	}
}

// Prometheus asks for OpenMetrics: the HTTPModule's /metrics serves it, and
// every name is one family. The byte counters move with real traffic.
func TestMetricsOpenMetricsScrape(t *testing.T) {
	var srv *wshubfx.Server
	var hub *core.Hub
	startApp(t, wshubfx.Module, wshubfx.MetricsModule, wshubfx.HTTPModule,
		fx.Supply(localConfig()),
		fx.Provide(prometheus.NewRegistry),
		wshubfx.AsRoute("echo", func(c *core.Client, m *core.Message) error { return c.Send(m.Data) }),
		fx.Populate(&srv, &hub))

	conn := dialHub(t, hub, "ws://"+srv.Addr()+"/ws")
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"echo"}`)))
	assert.JSONEq(t, `{"type":"echo"}`, readText(t, conn))

	url := "http://" + srv.Addr() + "/metrics"
	var body string
	require.Eventually(t, func() bool {
		var ct string
		ct, body = getAccept(t, url, "application/openmetrics-text; version=1.0.0")
		require.True(t, strings.HasPrefix(ct, "application/openmetrics-text; version=1.0.0"), "Content-Type %q", ct)
		// The write pump counts after its write returned.
		return strings.Contains(body, "\nwshub_messages_sent_total 1.0\n")
	}, waitFor, tick, "messages_sent_total never reached 1")
	assert.True(t, strings.HasSuffix(body, "\n# EOF\n"))

	types := map[string]string{}
	for line := range strings.SplitSeq(body, "\n") {
		rest, ok := strings.CutPrefix(line, "# TYPE ")
		if !ok {
			continue
		}
		name, typ, _ := strings.Cut(rest, " ")
		_, dup := types[name]
		require.False(t, dup, "family %s declared twice", name)
		types[name] = typ
	}
	assert.Equal(t, "gauge", types["wshub_connections_open"])
	assert.Equal(t, "counter", types["wshub_connections_accepted"])
	assert.Equal(t, "counter", types["wshub_bytes_sent"])
	assert.Equal(t, "counter", types["wshub_bytes_received"])
	assert.Equal(t, "gauge", types["wshub_cluster_nodes"])
	assert.Equal(t, "histogram", types["wshub_handler_duration_seconds"])
	assert.Contains(t, body, "\nwshub_connections_accepted_total 1.0\n")
	// {"type":"echo"} is 15 bytes: 2+4+15 read, 2+15 written.
	assert.Contains(t, body, "\nwshub_bytes_received_total 21.0\n")
	assert.Contains(t, body, "\nwshub_bytes_sent_total 17.0\n")

	// A scraper that asks for nothing gets the classic text format, which
	// the official parser reads.
	ct, text := getAccept(t, url, "")
	assert.True(t, strings.HasPrefix(ct, "text/plain"), "Content-Type %q", ct)
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(text))
	require.NoError(t, err)
	assert.Contains(t, families, "wshub_bytes_sent_total")
	assert.Contains(t, families, "wshub_connections_accepted_total")
}

func TestMetricsNativeHistogramsFromConfig(t *testing.T) {
	tests := []struct {
		name       string
		give       float64
		wantNative bool
	}{
		{name: "off", give: 0},
		{name: "factor 1.1", give: 1.1, wantNative: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := localConfig()
			cfg.MetricsNativeHistogramFactor = tt.give
			var reg *prometheus.Registry
			startApp(t, wshubfx.Module, wshubfx.MetricsModule, fx.Supply(cfg),
				fx.Provide(prometheus.NewRegistry), fx.Populate(&reg))
			families, err := reg.Gather()
			require.NoError(t, err)
			seen := 0
			for _, f := range families {
				if f.GetName() != "wshub_handler_duration_seconds" {
					continue
				}
				seen++
				h := f.GetMetric()[0].GetHistogram()
				assert.NotEmpty(t, h.GetBucket(), "classic buckets stay")
				assert.Equal(t, tt.wantNative, h.Schema != nil, "native histogram")
			}
			assert.Equal(t, 1, seen)
		})
	}

	cfg := localConfig()
	cfg.MetricsNativeHistogramFactor = 0.5
	a := fx.New(fx.NopLogger, wshubfx.Module, wshubfx.MetricsModule, fx.Supply(cfg))
	require.ErrorIs(t, a.Err(), metrics.ErrInvalidBucketFactor)
}

// getAccept fetches url with accept as its Accept header (none when empty)
// and returns the Content-Type and body of a 200 answer.
func getAccept(t *testing.T, url, accept string) (string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	require.NoError(t, err)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := (&http.Client{Timeout: waitFor}).Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.Header.Get("Content-Type"), string(b)
}
