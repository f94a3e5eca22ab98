// Package core is the wshub engine: a Hub that accepts WebSocket
// connections and routes messages to all clients, to rooms, to users and to
// single clients, on one node or, through an Adapter, across a cluster.
//
// # Life cycle
//
// NewHub builds a hub from options and starts nothing. Run marks it running
// (upgrades before that get 503), subscribes to the adapter and starts the
// hub's background goroutines; it blocks until Shutdown. WaitRunning waits
// for that point. Drain refuses new connections (503, readiness false) and
// waits for clients to leave, closing idle ones with 1001 after the drain
// timeout. Shutdown closes every remaining client with 1001 after writing
// what was queued for it, runs each client's full disconnect path, closes
// the adapter and waits for every goroutine the hub started.
//
// # Goroutines
//
// Per connection: a read pump, for the life of the connection, and a write
// pump that runs only while the client's send queue is non-empty. Pings are
// timers, not goroutines. Per hub, with an adapter: a publisher goroutine
// (and a presence goroutine with WithPresence); during Drain, an idle
// reaper. Hooks documented as asynchronous run in short-lived goroutines.
// Shutdown stops and waits for all of them.
//
// # Sending
//
// Sends never block on a slow client: each client has a bounded queue with
// a DropPolicy; the ...WithContext variants wait for space instead. A
// broadcast frames its message once and queues the same frame for every
// recipient. The write pump writes all queued frames, as separate WebSocket
// frames, with one system call. Sends keep a reference to the payload until
// it is written: do not modify a slice after passing it.
//
// # Failures
//
// A panic in a handler, hook or middleware is recovered, logged and counted
// (IncrementErrors("panic")); a handler panic closes that one connection
// with 1011. Inbound messages over MaxMessageSize close the connection with
// 1009, also when compression would inflate them past the limit.
//
// All exported methods are safe for concurrent use unless documented
// otherwise (Router and MiddlewareChain registration happens before use).
package core
