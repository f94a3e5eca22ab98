package redis

import "time"

// Defaults used by New.
const (
	// DefaultChannelPrefix is the channel prefix used without
	// WithChannelPrefix.
	DefaultChannelPrefix = "wshub"
	// DefaultHealthTimeout is the health timeout used without
	// WithHealthTimeout.
	DefaultHealthTimeout = 2 * time.Second
)

// Option configures an Adapter built by New.
type Option func(*config)

type config struct {
	prefix        string
	onError       func(error)
	healthTimeout time.Duration
}

// WithChannelPrefix sets the prefix of every Redis channel the adapter uses
// (default "wshub"). Hubs that must see each other's messages use the same
// prefix; unrelated deployments sharing one Redis use different ones. New
// rejects an empty prefix.
func WithChannelPrefix(p string) Option {
	return func(c *config) { c.prefix = p }
}

// WithErrorHandler sets a function called with every failure no method
// returns: broken or refused subscriptions and undecodable messages. Each
// error is a *core.AdapterError. The function runs on the adapter's own
// goroutines and must not block for long. Default: none. The reporter
// installed with SetErrorReporter is called as well.
func WithErrorHandler(fn func(error)) Option {
	return func(c *config) { c.onError = fn }
}

// WithHealthTimeout bounds the PING that CheckHealth sends through the
// client, and the time the subscription may stay silent after the adapter
// pinged it before it counts as down (default 2s). New rejects a value that
// is not positive.
func WithHealthTimeout(d time.Duration) Option {
	return func(c *config) { c.healthTimeout = d }
}
