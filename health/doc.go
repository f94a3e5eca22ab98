// Package health serves liveness and readiness probes for a core.Hub, with
// JSON bodies that keep the hub's HealthStatus keys (alive, ready, state,
// uptime_ns, clients) and add an overall "status" and the results of
// dependency checks.
//
// Liveness (LiveHandler) answers 200 while the hub's Run executes and 503
// otherwise; it runs no checks, so a broker outage never gets a process
// restarted. Readiness (ReadyHandler, Ready) answers 200 only while the hub
// accepts connections (not created, draining or stopped) and every
// registered Check passed within its timeout. When the hub's adapter
// implements core.HealthCheckAdapter, its CheckHealth is registered as the
// check "adapter".
//
// # Goroutines
//
// The package starts no long-lived goroutines. Each readiness evaluation
// runs its checks concurrently, one goroutine per check, and waits for all
// of them or for their deadline (or the request's end), then cancels the
// checks' contexts: Ready waits at most until the checks' deadlines, and a
// check still running then (one that ignores its context, or is just
// returning) keeps its goroutine until its function returns; its late
// result is discarded.
//
// A Checker is safe for concurrent use; it holds no state between calls.
package health
