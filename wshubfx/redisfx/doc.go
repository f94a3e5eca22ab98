// Package redisfx is an fx module that connects wshubfx.Module's hub to
// other nodes over Redis pub/sub (package adapters/redis). It lives in its
// own package so applications that do not use it never link go-redis.
//
// With a goredis.UniversalClient in the graph, Module builds the adapter on
// it and leaves the client to the application. Without one, it creates a
// client for Config.URL (go-redis connects lazily, on first use, so nothing
// is dialled before the hub runs) and closes that client in OnStop.
// Either way the adapter becomes wshubfx.Module's default core.Adapter; a
// top-level fx.Decorate of core.Adapter still wins.
//
// # Lifecycle and goroutines
//
// Module's constructor runs before the hub's, so its hook stops after the
// hub's Shutdown has closed the adapter. The adapter's goroutines belong to
// the hub (started by Run's Subscribe, stopped by Shutdown's Close); the
// client's connection pool belongs to go-redis and is released by Close.
package redisfx
