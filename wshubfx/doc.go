// Package wshubfx composes wshub as uber-go/fx modules. It is the only
// package of the module that imports fx.
//
// Module provides the *core.Hub and runs it for the application's
// lifetime. See its documentation for the values it provides and their
// defaults.
//
// # Swapping a dependency
//
// core.Logger, core.MetricsCollector, core.Adapter, core.Hooks and
// *core.Router each have a default; replace any with a top-level
// fx.Decorate or fx.Replace:
//
//	fx.New(
//		wshubfx.Module,
//		fx.Decorate(func() core.Adapter { return myAdapter }),
//		fx.Replace(fx.Annotate(myMetrics, fx.As(new(core.MetricsCollector)))),
//	)
//
// Decorate at the top level: fx applies a decorator only inside the module
// that declares it and that module's children, so one placed in an
// application's own fx.Module does not reach the hub's constructor.
//
// # Value groups
//
// Several modules may contribute to the hub through value groups. fx hands
// group values over in no set order; this package sorts them, so
// behaviour does not depend on the order modules were listed in:
//
//   - RoutesGroup (Route, AsRoute, ProvideRoute): registered on the
//     *core.Router, sorted by event; a duplicate event fails construction.
//   - MiddlewareGroup (Middleware, AsMiddleware, ProvideMiddleware): wrapped
//     around the router sorted by Order then Name; the lowest Order is the
//     outermost.
//   - HooksGroup (HookSet, AsHooks, ProvideHooks): merged after the
//     core.Hooks value, sorted by Order then Name. Each hook is called in
//     that order; BeforeConnect, BeforeRoomJoin and BeforeMessage stop at
//     the first error, and BeforeMessage passes each hook the message the
//     previous one returned.
//   - HealthChecksGroup (health.Check, AsHealthCheck, ProvideHealthCheck):
//     readiness checks of the HealthModule, sorted by name.
//   - HTTPHandlersGroup (Endpoint, AsEndpoint, ProvideEndpoint): extra
//     handlers of the HTTPModule's main server, sorted by pattern.
//
// Routes and middleware are installed after the hub is built, so their
// constructors may depend on *core.Hub. Hook sets are inputs of the hub's
// constructor and cannot.
//
// # Configuration
//
// Config's zero value is usable. No module provides it: supply one with
// fx.Supply or fx.Replace, or build it with fx.Decorate or a constructor.
//
// # Lifecycle and goroutines
//
// OnStart runs hub.Run in a goroutine owned by the hook and returns once the
// hub accepts connections. OnStop drains the hub (readiness turns 503 and
// upgrades are refused at once; idle clients are closed with 1001 after
// Config.DrainTimeout) for at most Config.StopTimeout, then calls
// hub.Shutdown, which writes what is queued for each remaining client,
// closes it with 1001, closes the adapter and waits for the hub's
// goroutines, the Run goroutine included. A drain that runs out of time is
// logged as a warning and is not an error, so a deploy that sends SIGTERM
// to an fx.New(...).Run() application exits 0.
//
// Set fx.StopTimeout above Config.StopTimeout (defaults: 15s for fx, 10s
// here), leaving Shutdown a few seconds. If fx's is the shorter, OnStop
// shortens the drain to keep a fifth of fx's time for Shutdown, and says so
// in a warning.
package wshubfx
