package wshubfx

import (
	"cmp"
	"fmt"
	"slices"

	"go.uber.org/fx"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/health"
)

// HealthModule provides a *health.Checker for the hub, with the checks of
// HealthChecksGroup (sorted by name; two checks of one name fail
// construction) and, when the adapter implements core.HealthCheckAdapter,
// the check "adapter". The checks of the group gate readiness unless their
// health.Check.ReportOnly is set. The "adapter" check is reported in the
// readiness body but does not gate readiness (a broker outage leaves every
// node serving its own clients, rather than every node unready), unless
// Config.HealthAdapterRequired is set. Config.HealthTimeout is the default
// per-check timeout (health.DefaultTimeout, 800 ms, when zero). Liveness
// runs no checks. The HTTPModule serves its probes when it is in the graph,
// and the hub's own HealthHandler and ReadyHandler otherwise.
var HealthModule = fx.Module("wshub.health", fx.Provide(newChecker))

type healthParams struct {
	fx.In

	Hub    *core.Hub
	Config Config         `optional:"true"`
	Checks []health.Check `group:"wshub.health_checks"`
}

func newChecker(p healthParams) (*health.Checker, error) {
	checks := slices.Clone(p.Checks)
	slices.SortStableFunc(checks, func(a, b health.Check) int { return cmp.Compare(a.Name, b.Name) })
	for i := 1; i < len(checks); i++ {
		if checks[i].Name == checks[i-1].Name {
			return nil, fmt.Errorf("%w: two health checks named %q", ErrInvalidContribution, checks[i].Name)
		}
	}
	opts := []health.Option{health.WithTimeout(p.Config.HealthTimeout), health.WithCheck(checks...)}
	if p.Config.HealthAdapterRequired {
		opts = append(opts, health.WithAdapterRequired())
	}
	return health.New(p.Hub, opts...), nil
}
