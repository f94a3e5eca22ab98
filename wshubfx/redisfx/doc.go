// Package redisfx is an fx module that connects wshubfx.Module's hub to
// other nodes over Redis pub/sub (package adapters/redis). It lives in its
// own package so applications that do not use it never link go-redis.
//
// Without Config.URL and with a goredis.UniversalClient (or a
// *goredis.Client) in the graph, Module builds the adapter on it and leaves
// the client to the application. Otherwise it creates a client for
// Config.URL (default DefaultURL) in OnStart (go-redis
// starts goroutines as soon as a client exists, so none is made for a graph
// that fails to build; it connects on first use) and closes that client in
// OnStop. A bad URL fails the graph's construction.
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
