package wshubfx_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubfx"
)

// linkDownAdapter is an in-memory adapter whose broker link is down.
type linkDownAdapter struct{ *memory.Adapter }

func (linkDownAdapter) Connected() bool { return false }

// The cross-node accounting reaches an fx app's /metrics with no glue: a
// message sent while the adapter's link is down is dropped at the publisher
// under its reason, and the loss counters are exported next to it.
func TestDeliveryAccountingInAnFxApp(t *testing.T) {
	cfg := localConfig()
	cfg.MaxPublishDelay = 200 * time.Millisecond
	var srv *wshubfx.Server
	var hub *core.Hub
	startApp(t, wshubfx.Module, wshubfx.MetricsModule, wshubfx.HTTPModule, fx.Supply(cfg),
		fx.Decorate(func() core.Adapter { return linkDownAdapter{memory.NewBus().NewAdapter()} }),
		fx.Populate(&srv, &hub))

	hub.BroadcastText("while the link is down")
	require.Eventually(t, func() bool {
		_, body := get(t, "http://"+srv.Addr()+"/metrics")
		return strings.Contains(body, `wshub_adapter_dropped_total{reason="link_down"} 1`)
	}, waitFor, 10*time.Millisecond)
	_, body := get(t, "http://"+srv.Addr()+"/metrics")
	for _, series := range []string{"wshub_adapter_published_total 0", "wshub_adapter_lost_total 0",
		"wshub_adapter_reordered_total 0", "wshub_adapter_duplicates_total 0", `wshub_adapter_dropped_total{reason="stale"} 0`} {
		assert.Contains(t, body, series)
	}
}
