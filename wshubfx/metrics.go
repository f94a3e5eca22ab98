package wshubfx

import (
	"context"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/fx"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/metrics"
)

// MetricsModule makes the hub export Prometheus metrics. It builds a
// *metrics.Collector (also provided), which becomes Module's default
// core.MetricsCollector (a top-level fx.Decorate still wins), and registers
// it in OnStart (so a graph that fails to build leaves nothing registered)
// on:
//   - the application's prometheus.Registerer when the graph has one; the
//     collector is unregistered on stop, so a later app may register on the
//     same one;
//   - otherwise a new prometheus.Registry of its own, which also gets the Go
//     runtime and process collectors unless the application provides a
//     prometheus.Gatherer (which is assumed to have them).
//
// The HTTPModule serves /metrics from what holds the collector: the
// application's Gatherer (or its Registerer, when that is a Gatherer), the
// module's own registry, or both merged when the application gave a
// Gatherer but no Registerer.
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
	var reg prometheus.Registerer
	var gatherer prometheus.Gatherer
	switch {
	case p.Registerer != nil:
		reg, gatherer = p.Registerer, p.Gatherer
		if gatherer == nil {
			gatherer, _ = p.Registerer.(prometheus.Gatherer)
		}
	case p.Gatherer != nil:
		r := prometheus.NewRegistry()
		reg, gatherer = r, prometheus.Gatherers{p.Gatherer, r}
	default:
		r := prometheus.NewRegistry()
		if err := r.Register(collectors.NewGoCollector()); err != nil {
			return metricsResult{}, fmt.Errorf("wshubfx: register Go collector: %w", err)
		}
		if err := r.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return metricsResult{}, fmt.Errorf("wshubfx: register process collector: %w", err)
		}
		reg, gatherer = r, r
	}
	d := &deferredRegisterer{target: reg}
	c, err := metrics.New(d)
	if err != nil {
		return metricsResult{}, fmt.Errorf("wshubfx: metrics: %w", err)
	}
	p.Lifecycle.Append(fx.Hook{
		OnStart: func(context.Context) error {
			if err := d.start(); err != nil {
				return fmt.Errorf("wshubfx: metrics: %w", err)
			}
			return nil
		},
		OnStop: func(context.Context) error {
			c.Unregister()
			return nil
		},
	})
	return metricsResult{Collector: c, Metrics: c, Gatherer: gatherer}, nil
}

// deferredRegisterer holds what is registered on it until start, then
// registers it all on target (all or nothing) and forwards later calls.
type deferredRegisterer struct {
	target prometheus.Registerer

	mu   sync.Mutex
	held []prometheus.Collector
	live bool
}

var _ prometheus.Registerer = (*deferredRegisterer)(nil)

// Register holds c until start, or registers it once started.
func (d *deferredRegisterer) Register(c prometheus.Collector) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.live {
		return d.target.Register(c)
	}
	d.held = append(d.held, c)
	return nil
}

// MustRegister is Register panicking on error, as the interface wants.
func (d *deferredRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := d.Register(c); err != nil {
			panic(err)
		}
	}
}

// Unregister removes c from target, or from what is held.
func (d *deferredRegisterer) Unregister(c prometheus.Collector) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.live {
		return d.target.Unregister(c)
	}
	for i, h := range d.held {
		if h == c {
			d.held = append(d.held[:i], d.held[i+1:]...)
			return true
		}
	}
	return false
}

// start registers what is held on target; on a failure it unregisters what
// it registered and returns the error.
func (d *deferredRegisterer) start() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, c := range d.held {
		if err := d.target.Register(c); err != nil {
			for _, done := range d.held[:i] {
				d.target.Unregister(done)
			}
			return err
		}
	}
	d.held, d.live = nil, true
	return nil
}
