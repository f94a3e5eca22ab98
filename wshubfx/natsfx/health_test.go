package natsfx_test

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wshub/wshub/health"
	"github.com/wshub/wshub/wshubfx"
	"github.com/wshub/wshub/wshubfx/natsfx"
)

// With its broker down (nothing listens on the URL), a node reports the
// adapter failing in readiness but stays ready by default: it serves its
// local clients. Config.HealthAdapterRequired makes readiness fail.
// Liveness stays 200 either way. The module logs the outage under
// "wshub.nats".
func TestReadinessWithBrokerDown(t *testing.T) {
	tests := []struct {
		name     string
		required bool
		wantCode int
	}{
		{name: "default", wantCode: http.StatusOK},
		{name: "HealthAdapterRequired", required: true, wantCode: http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs, logs := observer.New(zapcore.DebugLevel)
			var srv *wshubfx.Server
			node(t,
				wshubfx.LoggingModule, wshubfx.HealthModule, wshubfx.HTTPModule,
				fx.Supply(zap.New(obs),
					wshubfx.Config{StopTimeout: time.Second, HealthAdapterRequired: tt.required,
						HTTP: wshubfx.HTTPConfig{Addr: "127.0.0.1:0"}},
					natsfx.Config{URL: "nats://127.0.0.1:1", ConnectOptions: []natsgo.Option{natsgo.ReconnectWait(time.Hour)}}),
				fx.Populate(&srv))
			base := "http://" + srv.Addr()

			code, body := fetch(t, base+"/readyz")
			assert.Equal(t, tt.wantCode, code, body)
			var r health.Report
			require.NoError(t, json.Unmarshal([]byte(body), &r), body)
			adapter, ok := r.Checks[health.AdapterCheckName]
			require.True(t, ok, "the adapter check is in the body: %s", body)
			assert.False(t, adapter.OK)
			assert.NotEmpty(t, adapter.Error)
			assert.Equal(t, !tt.required, adapter.ReportOnly)

			code, body = fetch(t, base+"/healthz")
			assert.Equal(t, http.StatusOK, code, "liveness ignores the broker: %s", body)

			down := logs.FilterMessage("broker unreachable; serving local clients and retrying").AllUntimed()
			require.Len(t, down, 1)
			assert.Equal(t, "wshub.nats", down[0].LoggerName)
			assert.Equal(t, zapcore.WarnLevel, down[0].Level)
		})
	}
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := (&http.Client{Timeout: waitFor}).Get(url)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}
