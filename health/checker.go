package health

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/wshub/wshub/core"
)

// DefaultTimeout is the per-check timeout used when neither the Check nor
// WithTimeout sets one. It is below one second, kubelet's default probe
// timeout (timeoutSeconds: 1), so a hanging dependency makes the probe
// answer 503 (or report the check failing) in time rather than time out
// the probe itself.
const DefaultTimeout = 800 * time.Millisecond

// AdapterCheckName is the name of the check registered automatically for an
// adapter that implements core.HealthCheckAdapter. That check is ReportOnly
// unless WithAdapterRequired is given.
const AdapterCheckName = "adapter"

// ErrCheckTimeout is the error of a check that did not return within its
// timeout. Its text appears in the report; match it with errors.Is on
// CheckResult.Err.
var ErrCheckTimeout = errors.New("health: check timed out")

// ErrCheckPanicked wraps the value of a check that panicked.
var ErrCheckPanicked = errors.New("health: check panicked")

// Check is one dependency probed by readiness.
//
// Func must return nil while the dependency is usable, and must return
// promptly once ctx is done: ctx carries the check's deadline and the
// probe request's cancellation.
//
// A check gates readiness (its failure makes readiness 503) unless it is
// ReportOnly. The zero value of ReportOnly gates, so a check an application
// registers with WithCheck or WithCheckFunc fails readiness when it fails.
type Check struct {
	// Name keys the check in the report's "checks" object. Names are unique
	// within a Checker: a later check replaces an earlier one of the same
	// name (so an explicit "adapter" check replaces the automatic one). An
	// empty name becomes "check<N>", N being its position.
	Name string
	// Timeout bounds one run of Func; zero uses the Checker's timeout
	// (WithTimeout, default DefaultTimeout).
	Timeout time.Duration
	// ReportOnly makes the check informational: it runs with the others
	// and its result is in the report (with "report_only": true), but its
	// failure does not fail readiness; the report's status is then
	// StatusDegraded. Use it for a dependency without which the process
	// still serves some of its traffic, such as the broker link: a pod
	// that lost its broker still serves its local clients, and failing
	// readiness on every pod at once would take every endpoint out of its
	// Service.
	ReportOnly bool
	// Func probes the dependency. A Check with a nil Func is ignored.
	Func func(ctx context.Context) error
}

// Option configures a Checker in New.
type Option func(*options)

type options struct {
	timeout         time.Duration
	checks          []Check
	noAuto          bool
	adapterRequired bool
}

// WithCheck registers checks run by every readiness evaluation.
func WithCheck(checks ...Check) Option {
	return func(o *options) { o.checks = append(o.checks, checks...) }
}

// WithCheckFunc registers fn as the check name, with the Checker's timeout.
// The check gates readiness.
func WithCheckFunc(name string, fn func(ctx context.Context) error) Option {
	return WithCheck(Check{Name: name, Func: fn})
}

// WithTimeout sets the timeout of checks that set none themselves (default
// DefaultTimeout). A value of zero or less keeps the default.
func WithTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// WithoutAdapterCheck stops New from registering the adapter's CheckHealth
// as the check "adapter".
func WithoutAdapterCheck() Option {
	return func(o *options) { o.noAuto = true }
}

// WithAdapterRequired makes the automatic "adapter" check gate readiness:
// while the adapter's CheckHealth fails, readiness answers 503. Without
// it the check is ReportOnly: its result shows in the report but a broker
// outage leaves readiness to the hub and the other checks, because a node
// that lost its broker still serves its own clients, and a broker outage
// would otherwise fail readiness on every node at once. It has no effect
// with WithoutAdapterCheck, or when a check named AdapterCheckName
// replaces the automatic one (that check's own ReportOnly applies).
func WithAdapterRequired() Option {
	return func(o *options) { o.adapterRequired = true }
}

// Checker evaluates a hub's liveness and readiness. Build it with New.
type Checker struct {
	hub    *core.Hub
	checks []Check // unique names, sorted by name; each has its timeout
}

// New returns a Checker for hub. It starts nothing and calls no check.
// When hub's adapter implements core.HealthCheckAdapter, its CheckHealth
// becomes the check "adapter", ReportOnly unless WithAdapterRequired is
// given (see also WithoutAdapterCheck). New panics if hub is nil, a
// programming error.
func New(hub *core.Hub, opts ...Option) *Checker {
	if hub == nil {
		panic("health: New called with a nil hub")
	}
	o := options{timeout: DefaultTimeout}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	var all []Check
	if a, ok := hub.Adapter().(core.HealthCheckAdapter); ok && !o.noAuto {
		all = append(all, Check{Name: AdapterCheckName, ReportOnly: !o.adapterRequired, Func: a.CheckHealth})
	}
	all = append(all, o.checks...)

	byName := make(map[string]int, len(all))
	var checks []Check
	for i, c := range all {
		if c.Func == nil {
			continue
		}
		if c.Name == "" {
			c.Name = "check" + strconv.Itoa(i)
		}
		if c.Timeout <= 0 {
			c.Timeout = o.timeout
		}
		if j, ok := byName[c.Name]; ok {
			checks[j] = c
			continue
		}
		byName[c.Name] = len(checks)
		checks = append(checks, c)
	}
	sort.Slice(checks, func(i, j int) bool { return checks[i].Name < checks[j].Name })
	return &Checker{hub: hub, checks: checks}
}

// CheckNames returns the names of the registered checks, sorted.
func (c *Checker) CheckNames() []string {
	names := make([]string, len(c.checks))
	for i, ch := range c.checks {
		names[i] = ch.Name
	}
	return names
}

// CheckResult is the outcome of one check in a Report.
type CheckResult struct {
	// OK is true when the check returned nil in time.
	OK bool `json:"ok"`
	// Error is the check's error text; empty when OK.
	Error string `json:"error,omitempty"`
	// Duration is how long the check ran, or its timeout when it timed out.
	Duration time.Duration `json:"duration_ns"`
	// ReportOnly is the Check's ReportOnly: when true, this result does
	// not count in the readiness verdict.
	ReportOnly bool `json:"report_only,omitempty"`
	// Err is the check's error (ErrCheckTimeout when it timed out); not
	// serialised.
	Err error `json:"-"`
}

// Status values of a Report.
const (
	// StatusOK: the probe passes and every check passed.
	StatusOK = "ok"
	// StatusDegraded: readiness passes (200) but a ReportOnly check
	// failed, such as the broker link: the node serves its own clients
	// without reaching the other nodes.
	StatusDegraded = "degraded"
	// StatusUnavailable: the probe fails (503).
	StatusUnavailable = "unavailable"
)

// Report is the body of a probe response. Its JSON object holds "status"
// followed by the keys of core.HealthStatus (alive, ready, state, uptime_ns,
// clients) and, for readiness, "checks".
type Report struct {
	// Status is StatusOK when the probe passes, StatusDegraded when
	// readiness passes with a ReportOnly check failing, and
	// StatusUnavailable when the probe fails.
	Status string `json:"status"`
	// HealthStatus is the hub's snapshot. In a readiness report its Ready
	// field is the overall verdict: the hub accepts connections and every
	// check that gates readiness (not ReportOnly) passed. In a liveness
	// report it is the hub's own Ready.
	core.HealthStatus
	// Checks holds the result of each check by name; readiness only.
	Checks map[string]CheckResult `json:"checks,omitempty"`
}

// Live returns the liveness report and whether the hub's Run executes. It
// runs no checks.
func (c *Checker) Live() (Report, bool) {
	s := c.hub.Health()
	r := Report{Status: StatusOK, HealthStatus: s}
	if !s.Alive {
		r.Status = StatusUnavailable
	}
	return r, s.Alive
}

// Ready runs every check concurrently, each bounded by its timeout and by
// ctx, and returns the readiness report and whether the hub is ready: it
// accepts connections and every check that is not ReportOnly passed. A
// failing ReportOnly check shows in the report and makes its status
// StatusDegraded, not unavailable. Checks run even when the hub is not
// ready, so the report shows their state. Ready returns once every check
// returned or reached its deadline.
func (c *Checker) Ready(ctx context.Context) (Report, bool) {
	results := c.run(ctx)
	s := c.hub.Health()
	ok, degraded := s.Ready, false
	for _, res := range results {
		switch {
		case res.OK:
		case res.ReportOnly:
			degraded = true
		default:
			ok = false
		}
	}
	s.Ready = ok
	r := Report{Status: StatusOK, HealthStatus: s}
	switch {
	case !ok:
		r.Status = StatusUnavailable
	case degraded:
		r.Status = StatusDegraded
	}
	if len(results) > 0 {
		r.Checks = results
	}
	return r, ok
}

type outcome struct {
	i   int
	err error
	dur time.Duration
}

// run executes the checks and collects their results.
func (c *Checker) run(ctx context.Context) map[string]CheckResult {
	if len(c.checks) == 0 {
		return nil
	}
	// One slot per check, so a check that outlives its deadline can still
	// deliver its late result without blocking; nobody reads it then.
	done := make(chan outcome, len(c.checks))
	cancels := make([]context.CancelFunc, len(c.checks))
	for i, ch := range c.checks {
		cctx, cancel := context.WithTimeout(ctx, ch.Timeout)
		cancels[i] = cancel
		go runOne(cctx, i, ch.Func, done)
	}
	defer func() {
		for _, cancel := range cancels {
			cancel()
		}
	}()

	results := make(map[string]CheckResult, len(c.checks))
	got := make([]bool, len(c.checks))
	// The longest timeout bounds the wait; each check's own deadline is
	// enforced below from its context.
	var longest time.Duration
	for _, ch := range c.checks {
		longest = max(longest, ch.Timeout)
	}
	wait := time.NewTimer(longest)
	defer wait.Stop()
	start := time.Now()
	for n := 0; n < len(c.checks); {
		select {
		case o := <-done:
			got[o.i] = true
			n++
			ch := c.checks[o.i]
			res := result(o.err, o.dur, ch.Timeout)
			res.ReportOnly = ch.ReportOnly
			results[ch.Name] = res
		case <-wait.C:
			n = len(c.checks)
		case <-ctx.Done():
			n = len(c.checks)
		}
	}
	for i, ch := range c.checks {
		if got[i] {
			continue
		}
		err := ErrCheckTimeout
		if ctx.Err() != nil {
			err = fmt.Errorf("health: check abandoned: %w", ctx.Err())
		}
		results[ch.Name] = CheckResult{Error: err.Error(), Err: err, Duration: min(time.Since(start), ch.Timeout), ReportOnly: ch.ReportOnly}
	}
	return results
}

// result turns a check's return into a CheckResult. A check that returned
// its context's deadline error, or returned at all past its timeout,
// counts as timed out.
func result(err error, dur, timeout time.Duration) CheckResult {
	if err == nil && dur <= timeout {
		return CheckResult{OK: true, Duration: dur}
	}
	if err == nil || errors.Is(err, context.DeadlineExceeded) {
		err = fmt.Errorf("%w after %v", ErrCheckTimeout, timeout)
	}
	return CheckResult{Error: err.Error(), Err: err, Duration: dur}
}

func runOne(ctx context.Context, i int, fn func(context.Context) error, done chan<- outcome) {
	start := time.Now()
	var err error
	func() {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("%w: %v", ErrCheckPanicked, p)
			}
		}()
		err = fn(ctx)
	}()
	done <- outcome{i: i, err: err, dur: time.Since(start)}
}
