package wshubfx

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/fx"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/metrics"
)

// MetricsModule makes the hub export Prometheus metrics. It registers a
// *metrics.Collector (also provided) on the application's
// prometheus.Registerer when the graph has one (optional), or else on a new
// prometheus.Registry of its own, which also gets the Go runtime and
// process collectors. The collector becomes Module's default
// core.MetricsCollector (a top-level fx.Decorate still wins).
//
// The HTTPModule serves /metrics from the application's prometheus.Gatherer
// when the graph has one, else from the registry this module registered on
// (when that registry is a Gatherer). A collector registered on the
// application's Registerer is unregistered on stop, so a later app may
// register on the same one.
var MetricsModule = fx.Module("wshub.metrics", fx.Provide(newModuleMetrics))

type metricsParams struct {
	fx.In

	Lifecycle  fx.Lifecycle
	Registerer prometheus.Registerer `optional:"true"`
	Gatherer   prometheus.Gatherer   `optional:"true"`
}

type metricsResult struct {
	fx.Out

	Collector *metrics.Collector
	Metrics   core.MetricsCollector `name:"wshub.module.metrics"`
	Gatherer  prometheus.Gatherer   `name:"wshub.module.metrics"`
}

func newModuleMetrics(p metricsParams) (metricsResult, error) {
	reg, gatherer := p.Registerer, p.Gatherer
	own := reg == nil
	if own {
		r := prometheus.NewRegistry()
		if err := r.Register(collectors.NewGoCollector()); err != nil {
			return metricsResult{}, fmt.Errorf("wshubfx: register Go collector: %w", err)
		}
		if err := r.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return metricsResult{}, fmt.Errorf("wshubfx: register process collector: %w", err)
		}
		reg, gatherer = r, r
	} else if gatherer == nil {
		gatherer, _ = reg.(prometheus.Gatherer)
	}
	c, err := metrics.New(reg)
	if err != nil {
		return metricsResult{}, fmt.Errorf("wshubfx: metrics: %w", err)
	}
	if !own {
		p.Lifecycle.Append(fx.Hook{OnStop: func(context.Context) error {
			c.Unregister()
			return nil
		}})
	}
	return metricsResult{Collector: c, Metrics: c, Gatherer: gatherer}, nil
}
