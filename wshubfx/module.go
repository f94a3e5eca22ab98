package wshubfx

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"go.uber.org/fx"

	"github.com/wshub/wshub/core"
)

// Module provides a *core.Hub and runs it for the application's lifetime.
//
// It provides, each with a default that a top-level fx.Decorate or
// fx.Replace swaps:
//
//   - core.Logger: the LoggingModule's logger when that module is used,
//     else a core.NoOpLogger;
//   - core.MetricsCollector: the MetricsModule's collector when used, else
//     a core.NoOpMetrics;
//   - core.Adapter: the adapter of an adapter module (natsfx, redisfx) when
//     used, else nil: a single node;
//   - core.Hooks: the zero value; HookSets of HooksGroup run after it;
//   - *core.Router: NewJSONRouter, events named by the JSON field "type";
//     the routes of RoutesGroup are registered on it;
//   - *core.Hub: built from all of the above and Config.
//
// Decorate at the top level of fx.New: a decorator inside an fx.Module
// applies only within that module, so it would not reach the hub's
// constructor here.
var Module = fx.Module("wshub",
	fx.Provide(
		defaultLogger,
		defaultMetrics,
		defaultAdapter,
		defaultHooks,
		NewJSONRouter,
		newHub,
	),
	fx.Invoke(registerHandlers),
)

// AdapterResult is what an adapter module's constructor returns to make
// its adapter the default core.Adapter of Module (see wshubfx/natsfx and
// wshubfx/redisfx). Two adapter modules in one app fail construction. A
// top-level fx.Decorate of core.Adapter still wins.
type AdapterResult struct {
	fx.Out

	Adapter core.Adapter `name:"wshub.module.adapter"`
}

type loggerSlotIn struct {
	fx.In

	Logger core.Logger `name:"wshub.module.logger" optional:"true"`
}

func defaultLogger(in loggerSlotIn) core.Logger {
	if isNil(in.Logger) {
		return &core.NoOpLogger{}
	}
	return in.Logger
}

type metricsSlotIn struct {
	fx.In

	Metrics core.MetricsCollector `name:"wshub.module.metrics" optional:"true"`
}

func defaultMetrics(in metricsSlotIn) core.MetricsCollector {
	if isNil(in.Metrics) {
		return &core.NoOpMetrics{}
	}
	return in.Metrics
}

type adapterSlotIn struct {
	fx.In

	Adapter core.Adapter `name:"wshub.module.adapter" optional:"true"`
}

// defaultAdapter returns the adapter module's adapter or nil (no adapter).
func defaultAdapter(in adapterSlotIn) core.Adapter { return in.Adapter }

func defaultHooks() core.Hooks { return core.Hooks{} }

// stopAfterHub is a token whose constructor registered a lifecycle hook
// that must stop after the hub (so start before it). The hub's constructor
// depends on the group, which makes fx run those constructors, and append
// their hooks, first.
type stopAfterHub struct{}

type hubParams struct {
	fx.In

	Lifecycle fx.Lifecycle
	Config    Config `optional:"true"`
	Logger    core.Logger
	Metrics   core.MetricsCollector
	Adapter   core.Adapter
	Hooks     core.Hooks
	HookSets  []HookSet `group:"wshub.hooks"`
	Router    *core.Router
	StopAfter []stopAfterHub `group:"wshub.internal.stop_after_hub"`
	// RoomOptions, when provided, resolves each room's options (history);
	// Config.Rooms is the declarative alternative.
	RoomOptions core.RoomOptionsFunc `optional:"true"`
	// HistoryFramer, when provided, shapes history rooms' frames
	// (core.WithHistoryFramer).
	HistoryFramer core.HistoryFramer `optional:"true"`
	// Tracer traces the hub (TracingModule provides one).
	Tracer core.Tracer `optional:"true"`
}

type hubResult struct {
	fx.Out

	Hub        *core.Hub
	Dispatcher *dispatcher
}

// newHub builds the hub and registers its lifecycle hook.
func newHub(p hubParams) (hubResult, error) {
	if p.Router == nil {
		return hubResult{}, fmt.Errorf("wshubfx: nil *core.Router in the graph")
	}
	cfg := p.Config.withDefaults()
	logger := p.Logger
	if isNil(logger) {
		logger = &core.NoOpLogger{}
	}
	var metrics core.MetricsCollector = &core.NoOpMetrics{}
	if !isNil(p.Metrics) {
		metrics = p.Metrics
	}
	sets := sortHookSets(p.HookSets)
	all := make([]core.Hooks, 0, 1+len(sets))
	all = append(all, p.Hooks)
	for _, s := range sets {
		all = append(all, s.Hooks)
	}
	d := newDispatcher(p.Router)
	opts := cfg.hubOptions()
	opts = append(opts,
		core.WithLogger(logger),
		core.WithMetrics(metrics),
		core.WithHooks(mergeHooks(all...)),
		core.WithMessageHandler(d.handle),
	)
	if !isNil(p.Adapter) {
		opts = append(opts, core.WithAdapter(p.Adapter))
	}
	if p.RoomOptions != nil {
		if len(cfg.Rooms) > 0 {
			return hubResult{}, fmt.Errorf("wshubfx: both Config.Rooms and a core.RoomOptionsFunc in the graph; keep one")
		}
		opts = append(opts, core.WithRoomOptions(p.RoomOptions))
	}
	if !isNil(p.HistoryFramer) {
		opts = append(opts, core.WithHistoryFramer(p.HistoryFramer))
	}
	if !isNil(p.Tracer) {
		opts = append(opts, core.WithTracer(p.Tracer))
	}
	hub := core.NewHub(opts...)
	r := &hubRunner{hub: hub, logger: core.Named(logger, fxLoggerName), stopTimeout: cfg.StopTimeout}
	p.Lifecycle.Append(fx.Hook{OnStart: r.start, OnStop: r.stop})
	return hubResult{Hub: hub, Dispatcher: d}, nil
}

// hubRunner owns the goroutine that executes hub.Run.
type hubRunner struct {
	hub         *core.Hub
	logger      core.Logger
	stopTimeout time.Duration
	runDone     chan struct{} // closed when Run returned
}

// start launches Run and returns once the hub accepts connections.
func (r *hubRunner) start(ctx context.Context) error {
	r.runDone = make(chan struct{})
	go func() {
		defer close(r.runDone)
		r.hub.Run()
	}()
	if err := r.hub.WaitRunning(ctx); err != nil {
		// Make Run return so its goroutine does not outlive the failed start.
		// ctx is done; Shutdown of a hub without clients returns at once.
		_ = r.hub.Shutdown(context.Background())
		<-r.runDone
		return fmt.Errorf("wshubfx: hub did not start: %w", err)
	}
	r.logger.Info("hub running", "node_id", r.hub.NodeID())
	return nil
}

// stop drains the hub for at most the stop timeout, then shuts it down. A
// drain that runs out of time is logged as a warning: the remaining clients
// are closed by Shutdown, which is a normal end.
func (r *hubRunner) stop(ctx context.Context) error {
	drainCtx, cancel := context.WithDeadline(ctx, r.drainDeadline(ctx))
	err := r.hub.Drain(drainCtx)
	cancel()
	if err != nil {
		r.logger.Warn("drain did not finish in time, closing the remaining clients",
			"stop_timeout", r.stopTimeout, "clients", r.hub.ClientCount(), "error", err)
	}
	if err := r.hub.Shutdown(ctx); err != nil {
		return fmt.Errorf("wshubfx: hub shutdown: %w", err)
	}
	<-r.runDone
	return nil
}

// drainDeadline is now + the stop timeout, but leaves a fifth of the time
// fx gave OnStop for Shutdown: the drain ends at now + min(stop timeout,
// 4/5 of fx's remaining time). When that cuts the drain short, it logs a
// warning saying how much drain is left and how much stop time fx should
// have left at this point for the whole drain.
func (r *hubRunner) drainDeadline(ctx context.Context) time.Time {
	now := time.Now()
	d := now.Add(r.stopTimeout)
	fxDeadline, ok := ctx.Deadline()
	if !ok {
		return d
	}
	remaining := fxDeadline.Sub(now)
	if latest := now.Add(remaining * 4 / 5); latest.Before(d) {
		d = latest
		r.logger.Warn("the drain is shorter than Config.StopTimeout: fx's stop time left too little (raise fx.StopTimeout)",
			"stop_timeout", r.stopTimeout, "drain", max(d.Sub(now), 0), "fx_remaining", remaining,
			"fx_remaining_needed", r.stopTimeout*5/4)
	}
	return d
}

type handlerParams struct {
	fx.In

	Dispatcher *dispatcher
	Routes     []Route      `group:"wshub.routes"`
	Middleware []Middleware `group:"wshub.middleware"`
}

// registerHandlers registers the routes on the hub's router and installs
// the middleware chain, before the application starts.
func registerHandlers(p handlerParams) error {
	routes, err := sortRoutes(p.Routes)
	if err != nil {
		return err
	}
	for _, r := range routes {
		p.Dispatcher.router.On(r.Event, r.Handler)
	}
	chain := core.NewMiddlewareChain(p.Dispatcher.router.Handle)
	for _, mw := range sortMiddleware(p.Middleware) {
		if mw.Middleware != nil {
			chain.Use(mw.Middleware)
		}
	}
	p.Dispatcher.set(chain.Handler())
	return nil
}

// isNil reports whether v is nil or an interface holding a nil pointer,
// which a decorator may return to mean "none".
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Func, reflect.Interface, reflect.Slice, reflect.Chan:
		return rv.IsNil()
	}
	return false
}
