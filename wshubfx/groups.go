package wshubfx

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"

	"go.uber.org/fx"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/health"
)

// Value group names. Annotate a constructor's result with
// fx.ResultTags(`group:"wshub.routes"`) (and so on) to contribute to a group
// by hand; the As... and Provide... helpers do it for you. fx hands a group's
// values over in no particular order: every consumer here sorts them first,
// as each type's comment says.
const (
	// RoutesGroup holds Route values.
	RoutesGroup = "wshub.routes"
	// MiddlewareGroup holds Middleware values.
	MiddlewareGroup = "wshub.middleware"
	// HooksGroup holds HookSet values.
	HooksGroup = "wshub.hooks"
	// HealthChecksGroup holds health.Check values.
	HealthChecksGroup = "wshub.health_checks"
	// HTTPHandlersGroup holds Endpoint values.
	HTTPHandlersGroup = "wshub.http_handlers"
)

// Route registers Handler for the event Event on the hub's *core.Router.
// Routes are registered sorted by Event; two routes for one event fail the
// application's construction. Routes are registered after the hub is
// built, so a route's constructor may depend on *core.Hub.
type Route struct {
	Event   string
	Handler core.HandlerFunc
}

// Middleware wraps the router's handler. Middlewares are applied sorted by
// Order, then Name: the lowest Order is the outermost, seeing each message
// first. A middleware's constructor may depend on *core.Hub.
type Middleware struct {
	Name       string
	Order      int
	Middleware core.Middleware
}

// HookSet contributes hooks. The hub runs the core.Hooks value in the graph
// first, then each HookSet sorted by Order, then Name; see the package
// documentation for how each hook's results combine. A HookSet's
// constructor cannot depend on *core.Hub (the hub is built from the hooks;
// fx reports the cycle).
type HookSet struct {
	Name  string
	Order int
	Hooks core.Hooks
}

// Endpoint is an extra handler on the HTTPModule's main server, registered
// sorted by Pattern (http.ServeMux patterns). A pattern the module already
// serves, or a duplicate, fails start-up.
type Endpoint struct {
	Pattern string
	Handler http.Handler
}

// AsRoute contributes the route event → handler to RoutesGroup.
func AsRoute(event string, handler core.HandlerFunc) fx.Option {
	return fx.Supply(fx.Annotated{Group: RoutesGroup, Target: Route{Event: event, Handler: handler}})
}

// AsMiddleware contributes mw, named name, at position order.
func AsMiddleware(name string, order int, mw core.Middleware) fx.Option {
	return fx.Supply(fx.Annotated{Group: MiddlewareGroup, Target: Middleware{Name: name, Order: order, Middleware: mw}})
}

// AsHooks contributes hooks, named name, at position order.
func AsHooks(name string, order int, hooks core.Hooks) fx.Option {
	return fx.Supply(fx.Annotated{Group: HooksGroup, Target: HookSet{Name: name, Order: order, Hooks: hooks}})
}

// AsHealthCheck contributes check to the HealthModule's readiness checks.
func AsHealthCheck(check health.Check) fx.Option {
	return fx.Supply(fx.Annotated{Group: HealthChecksGroup, Target: check})
}

// AsEndpoint contributes handler at pattern on the HTTPModule's main server.
func AsEndpoint(pattern string, handler http.Handler) fx.Option {
	return fx.Supply(fx.Annotated{Group: HTTPHandlersGroup, Target: Endpoint{Pattern: pattern, Handler: handler}})
}

// ProvideRoute provides constructor, which returns a Route (and optionally
// an error), into RoutesGroup. Its parameters are resolved by fx.
func ProvideRoute(constructor any) fx.Option { return provideInto(RoutesGroup, constructor) }

// ProvideMiddleware provides constructor, which returns a Middleware, into
// MiddlewareGroup.
func ProvideMiddleware(constructor any) fx.Option {
	return provideInto(MiddlewareGroup, constructor)
}

// ProvideHooks provides constructor, which returns a HookSet, into
// HooksGroup.
func ProvideHooks(constructor any) fx.Option { return provideInto(HooksGroup, constructor) }

// ProvideHealthCheck provides constructor, which returns a health.Check,
// into HealthChecksGroup.
func ProvideHealthCheck(constructor any) fx.Option {
	return provideInto(HealthChecksGroup, constructor)
}

// ProvideEndpoint provides constructor, which returns an Endpoint, into
// HTTPHandlersGroup.
func ProvideEndpoint(constructor any) fx.Option {
	return provideInto(HTTPHandlersGroup, constructor)
}

func provideInto(group string, constructor any) fx.Option {
	return fx.Provide(fx.Annotate(constructor, fx.ResultTags(fmt.Sprintf("group:%q", group))))
}

// sortRoutes returns routes sorted by event, or an error for a nil handler
// or a duplicate event. The empty event is a valid one (see JSONTypeEvent).
func sortRoutes(routes []Route) ([]Route, error) {
	s := slices.Clone(routes)
	slices.SortStableFunc(s, func(a, b Route) int { return cmp.Compare(a.Event, b.Event) })
	for i, r := range s {
		if r.Handler == nil {
			return nil, fmt.Errorf("%w: route %q has a nil handler", ErrInvalidContribution, r.Event)
		}
		if i > 0 && s[i-1].Event == r.Event {
			return nil, fmt.Errorf("%w: two routes for event %q", ErrInvalidContribution, r.Event)
		}
	}
	return s, nil
}

func sortMiddleware(mws []Middleware) []Middleware {
	s := slices.Clone(mws)
	slices.SortStableFunc(s, func(a, b Middleware) int {
		return cmp.Or(cmp.Compare(a.Order, b.Order), cmp.Compare(a.Name, b.Name))
	})
	return s
}

func sortHookSets(sets []HookSet) []HookSet {
	s := slices.Clone(sets)
	slices.SortStableFunc(s, func(a, b HookSet) int {
		return cmp.Or(cmp.Compare(a.Order, b.Order), cmp.Compare(a.Name, b.Name))
	})
	return s
}

func sortEndpoints(eps []Endpoint) ([]Endpoint, error) {
	s := slices.Clone(eps)
	slices.SortStableFunc(s, func(a, b Endpoint) int { return cmp.Compare(a.Pattern, b.Pattern) })
	for i, e := range s {
		if e.Handler == nil || e.Pattern == "" {
			return nil, fmt.Errorf("%w: endpoint %q needs a pattern and a handler", ErrInvalidContribution, e.Pattern)
		}
		if i > 0 && s[i-1].Pattern == e.Pattern {
			return nil, fmt.Errorf("%w: two endpoints for pattern %q", ErrInvalidContribution, e.Pattern)
		}
	}
	return s, nil
}
