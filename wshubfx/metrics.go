package wshubfx

import (
	"context"
	"errors"
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
// it in OnStart (so a graph that fails to build leaves nothing registered).
// Where it registers, and what the HTTPModule serves at /metrics, depends
// on what the application's graph holds, all of it optional:
//   - a *prometheus.Registry (the usual fx.Provide(prometheus.NewRegistry)):
//     the collector registers there and the registry is served;
//   - a prometheus.Registerer: the collector registers there (it wins over
//     the Registry, so an app may hand the module a wrapping Registerer,
//     such as prometheus.WrapRegistererWith(labels, registry)); what is
//     served is the graph's Gatherer, else its Registry, else the
//     Registerer itself when it is a Gatherer, else nothing (the app
//     serves its metrics itself);
//   - a prometheus.Gatherer alone: the collector registers on a registry of
//     the module's own, served merged with the app's Gatherer;
//   - nothing: a registry of the module's own, which also gets the Go
//     runtime and process collectors.
//
// On an application's registry the collector is unregistered on stop, so
// a later app may register on the same one. A graph that would register on
// one registry and serve another fails to build, with an error that says
// what to provide: a *prometheus.Registry next to a prometheus.Registerer
// or prometheus.Gatherer that is a different registry, for example.
//
// Config.MetricsNativeHistogramFactor turns on native histograms
// (metrics.WithNativeHistograms).
var MetricsModule = fx.Module("wshub.metrics", fx.Provide(newModuleMetrics))

type metricsParams struct {
	fx.In

	Lifecycle  fx.Lifecycle
	Config     Config                `optional:"true"`
	Registry   *prometheus.Registry  `optional:"true"`
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
	reg, gatherer, err := metricsTargets(p)
	if err != nil {
		return metricsResult{}, err
	}
	var opts []metrics.Option
	if f := p.Config.MetricsNativeHistogramFactor; f != 0 {
		opts = append(opts, metrics.WithNativeHistograms(f))
	}
	d := &deferredRegisterer{target: reg}
	c, err := metrics.New(d, opts...)
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

// metricsTargets picks, from what the graph holds, where the collector
// registers and what /metrics serves (nil: nothing), as MetricsModule
// describes.
func metricsTargets(p metricsParams) (prometheus.Registerer, prometheus.Gatherer, error) {
	registry := p.Registry
	registerer, gatherer := p.Registerer, p.Gatherer
	if isNil(registerer) {
		registerer = nil
	}
	if isNil(gatherer) {
		gatherer = nil
	}
	if registry != nil {
		// Another registry next to it, as Registerer or Gatherer, leaves
		// it open which one the app serves.
		if r, ok := registerer.(*prometheus.Registry); ok && r != registry {
			return nil, nil, errors.New("wshubfx: metrics: the graph has a *prometheus.Registry and a prometheus.Registerer " +
				"that is another registry; provide only the *prometheus.Registry, or the Registerer as that registry: " +
				"fx.Provide(func(r *prometheus.Registry) prometheus.Registerer { return r })")
		}
		if g, ok := gatherer.(*prometheus.Registry); ok && g != registry {
			return nil, nil, errors.New("wshubfx: metrics: the graph has a *prometheus.Registry and a prometheus.Gatherer " +
				"that is another registry; provide only the *prometheus.Registry, or a Gatherer that includes it: " +
				"prometheus.Gatherers{registry, other}")
		}
		if registerer == nil {
			registerer = registry
		}
		if gatherer == nil {
			gatherer = registry
		}
	}
	switch {
	case registerer != nil:
		if gatherer == nil {
			gatherer, _ = registerer.(prometheus.Gatherer)
		}
		// Registering on one registry and serving another cannot work.
		if r, ok := registerer.(*prometheus.Registry); ok && !gathers(gatherer, r) {
			return nil, nil, errors.New("wshubfx: metrics: the graph's prometheus.Gatherer does not include the " +
				"registry the hub's metrics would be registered on, so /metrics would not show them; provide one " +
				"*prometheus.Registry alone, or a Gatherer that includes that registry (prometheus.Gatherers{registry, other})")
		}
		return registerer, gatherer, nil
	case gatherer != nil:
		r := prometheus.NewRegistry()
		return r, prometheus.Gatherers{gatherer, r}, nil
	default:
		r := prometheus.NewRegistry()
		if err := r.Register(collectors.NewGoCollector()); err != nil {
			return nil, nil, fmt.Errorf("wshubfx: register Go collector: %w", err)
		}
		if err := r.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})); err != nil {
			return nil, nil, fmt.Errorf("wshubfx: register process collector: %w", err)
		}
		return r, r, nil
	}
}

// gathers reports whether g may gather what is registered on r: false
// only when g is certainly without it (another registry, or Gatherers
// made of such), true when g is nil (nothing is served) or unknown.
func gathers(g prometheus.Gatherer, r *prometheus.Registry) bool {
	switch g := g.(type) {
	case *prometheus.Registry:
		return g == r
	case prometheus.Gatherers:
		for _, e := range g {
			if gathers(e, r) {
				return true
			}
		}
		return false
	default:
		return true
	}
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
