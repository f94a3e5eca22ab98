package wshubfx

import "errors"

// ErrInvalidContribution is returned (wrapped, with the offending name) when
// a value group holds a contribution that cannot be used: a route without a
// handler, two routes for one event, an endpoint without a pattern, two
// endpoints for one pattern or an endpoint on a path the module serves.
// fx.New or Start then fails.
var ErrInvalidContribution = errors.New("wshubfx: invalid contribution")
