// Package health serves liveness and readiness probes for a core.Hub, with
// JSON bodies that keep the hub's HealthStatus keys (alive, ready, state,
// uptime_ns, clients) and add an overall "status" and the results of
// dependency checks.
//
// Liveness (LiveHandler) answers 200 while the hub's Run executes and 503
// otherwise; it runs no checks, so a broker outage never gets a process
// restarted. Readiness (ReadyHandler, Ready) answers 200 only while the hub
// accepts connections (not created, draining or stopped) and every
// registered Check that gates readiness passed within its timeout.
//
// When the hub's adapter implements core.HealthCheckAdapter, its
// CheckHealth is registered as the check "adapter". By default that check
// is ReportOnly: its result ("ok", "error") is in every readiness report,
// and a failure makes the report's status "degraded", but readiness stays
// 200. A node that lost its broker still serves its own clients, and if
// readiness failed on it, one broker outage would fail readiness on every
// node at once and Kubernetes would remove every endpoint of the Service.
// WithAdapterRequired makes the check gate readiness; checks an
// application registers (WithCheck, WithCheckFunc) gate readiness unless
// their Check.ReportOnly is set.
//
// Each check runs with a timeout, DefaultTimeout (800 ms) unless
// WithTimeout or Check.Timeout says otherwise: below kubelet's default
// probe timeout of one second, so the probe answers before kubelet gives
// up on it. Keep the timeouts below the probe's timeoutSeconds.
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
