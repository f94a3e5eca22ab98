// Package natsfx is an fx module that connects wshubfx.Module's hub to
// other nodes over NATS (package adapters/nats). It lives in its own
// package so applications that do not use it never link nats.go.
//
// With a *nats.Conn in the graph, Module builds the adapter on it and
// leaves the connection to the application. Without one, it connects to
// Config.URL in OnStart and flushes and closes that connection in OnStop.
// By default it dials with natsgo.RetryOnFailedConnect(true) and the
// adapter's ConnectOptions (unlimited, quick reconnects, no reconnect
// buffer), so the application starts while the broker is unreachable:
// the hub serves its local clients, readiness reports the "adapter" check
// failing, and the link comes up when the broker does (add
// natsgo.RetryOnFailedConnect(false) to Config.ConnectOptions to make a
// failed first connect fail start-up). Either way the adapter becomes
// wshubfx.Module's default core.Adapter; a top-level fx.Decorate of
// core.Adapter still wins.
//
// # Lifecycle and goroutines
//
// Module's constructor runs before the hub's, so its hook starts before
// the hub runs and stops after the hub's Shutdown has closed the adapter:
// the connection outlives every publish. The adapter's goroutines belong
// to the hub (started by Run's Subscribe, stopped by Shutdown's Close);
// the connection's belong to nats.go and end when it is closed.
package natsfx
