// Package wshubfx composes wshub as uber-go/fx modules. It and its
// sub-packages natsfx and redisfx are the only packages of the module that
// import fx.
//
// # Modules
//
//   - Module ("wshub") provides the *core.Hub, built from a core.Logger, a
//     core.MetricsCollector, a core.Adapter, core.Hooks, a *core.Router and
//     Config, and runs it for the application's lifetime.
//   - LoggingModule makes the hub's logger the application's *zap.Logger
//     or *slog.Logger (zap when both; a no-op one, with a warning, when
//     the graph has neither) and syncs zap last on stop. Lines are logged
//     under the names "wshub" (the hub), "wshub.fx" (these modules) and
//     "wshub.nats". FxLogger sends fx's own events to the same logger.
//   - MetricsModule registers a Prometheus collector on the application's
//     *prometheus.Registry or prometheus.Registerer, or on a registry of
//     its own.
//   - HealthModule provides a *health.Checker with the checks contributed
//     to HealthChecksGroup and the adapter's link check, which readiness
//     reports but does not fail on unless Config.HealthAdapterRequired.
//   - wshubfx/tracingfx traces the hub with OpenTelemetry from the
//     graph's trace.TracerProvider; like natsfx and redisfx, it is a
//     package of its own, so that applications that do not trace do not
//     link the OpenTelemetry API.
//   - HTTPModule serves /ws, /healthz, /readyz, /metrics and contributed
//     endpoints (optionally probes and metrics on a separate admin address)
//     and provides the *Server, whose Addr reports the bound address.
//   - wshubfx/natsfx and wshubfx/redisfx provide a multi-node adapter; they
//     are separate packages so that applications not using them do not
//     link their client libraries.
//
// A typical application:
//
//	fx.New(
//		fx.StopTimeout(20*time.Second), // above Config.StopTimeout
//		fx.Supply(zapLogger, wshubfx.Config{NodeID: podName}),
//		wshubfx.FxLogger,
//		wshubfx.Module, wshubfx.LoggingModule, wshubfx.MetricsModule,
//		wshubfx.HealthModule, wshubfx.HTTPModule, natsfx.Module,
//		wshubfx.AsRoute("chat", onChat),
//	).Run()
//
// # Swapping a dependency
//
// core.Logger, core.MetricsCollector, core.Adapter, core.Hooks and
// *core.Router each have a default (NoOpLogger or LoggingModule's,
// NoOpMetrics or MetricsModule's, no adapter or an adapter module's, the
// zero Hooks, NewJSONRouter). Replace any of them with fx.Decorate or
// fx.Replace at the top level of fx.New:
//
//	fx.New(
//		wshubfx.Module,
//		fx.Decorate(func() core.Adapter { return myAdapter }),
//		fx.Replace(fx.Annotate(myMetrics, fx.As(new(core.MetricsCollector)))),
//	)
//
// Decorate at the top level: fx applies a decorator only inside the module
// that declares it and that module's children, so one placed inside an
// application's own fx.Module does not reach the hub's constructor. A
// decorator returning a nil core.Adapter (or a typed nil) means no adapter;
// a nil Logger or MetricsCollector means the no-op one.
//
// # Value groups
//
// Any module may contribute to the hub through value groups. fx hands
// group values over in no set order; this package sorts them, so
// behaviour does not depend on the order in which modules were listed:
//
//   - RoutesGroup (Route; AsRoute, ProvideRoute): registered on the
//     *core.Router, sorted by event; a duplicate event fails construction.
//   - MiddlewareGroup (Middleware; AsMiddleware, ProvideMiddleware): wrapped
//     around the router sorted by Order then Name; the lowest Order is the
//     outermost.
//   - HooksGroup (HookSet; AsHooks, ProvideHooks): merged after the
//     core.Hooks value, sorted by Order then Name. Each hook is called in
//     that order; BeforeConnect, BeforeRoomJoin and BeforeMessage stop at
//     the first error, and BeforeMessage passes each hook the message the
//     previous one returned. A panic in one hook skips the later ones for
//     that call (the hub recovers and counts it).
//   - HealthChecksGroup (health.Check; AsHealthCheck, ProvideHealthCheck):
//     readiness checks of the HealthModule, sorted by name.
//   - HTTPHandlersGroup (Endpoint; AsEndpoint, ProvideEndpoint): extra
//     handlers on the HTTPModule's main server, sorted by pattern.
//
// Routes and middleware are installed after the hub is built, so their
// constructors may depend on *core.Hub. Hook sets are inputs of the hub's
// constructor and cannot.
//
// # Configuration
//
// Config's zero value is usable. No module provides one: supply it with
// fx.Supply or fx.Replace, or build it with fx.Decorate or a constructor.
//
// # Lifecycle, stop order and goroutines
//
// Lifecycle hooks are registered in dependency order, so that on start the
// logger, the adapter's connection and the admin server come first, then
// the hub, then the main HTTP server; fx stops them in reverse:
//
//  1. Readiness turns 503 and upgrades are refused (the hub starts
//     draining); then the main HTTP server closes its listener and waits
//     for plain requests (http.Server.Shutdown; hijacked WebSockets are the
//     hub's) for at most a fifth of fx's remaining stop time, closing what
//     still runs after that with a warning, so a streaming endpoint cannot
//     starve the steps below.
//  2. The hub drains: a client whose send queue stayed empty for
//     Config.DrainTimeout is closed with 1001. The drain lasts at most
//     Config.StopTimeout.
//  3. The hub shuts down: each remaining client gets what was queued for
//     it, then a 1001 close frame; the adapter is flushed and closed.
//  4. The admin server stops and an adapter module closes the connection
//     it made (these two in either order); the logger syncs last.
//
// A drain that runs out of time is logged as a warning and is not an
// error, so an fx.New(...).Run() application that receives SIGTERM exits 0.
// Set fx.StopTimeout above Config.StopTimeout (defaults: 15s for fx, 10s
// here), leaving Shutdown a few seconds. If Config.StopTimeout is more than
// four fifths of the stop time fx has left when the hub's OnStop runs
// (after the main server's share), OnStop shortens the drain to keep that
// fifth for Shutdown and logs a warning.
//
// Goroutines: Module's OnStart runs hub.Run in a goroutine that OnStop
// waits for (Shutdown makes Run return). The HTTPModule runs one Serve
// goroutine per listener, stopped and waited for by its OnStop. Everything
// else belongs to the hub (see package core) or to the adapter.
package wshubfx
