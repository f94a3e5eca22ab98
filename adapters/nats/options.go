package nats

import (
	"fmt"
	"time"
)

// DefaultSubjectPrefix is the subject prefix used without WithSubjectPrefix.
const DefaultSubjectPrefix = "wshub"

// DefaultHealthTimeout bounds the round trip of CheckHealth without
// WithHealthTimeout.
const DefaultHealthTimeout = time.Second

// Option configures an Adapter in New.
type Option func(*config)

type config struct {
	prefix        string
	onError       func(error)
	healthTimeout time.Duration
}

// WithSubjectPrefix sets the first subject token(s) of every subject the
// adapter uses (default DefaultSubjectPrefix). All nodes of one cluster must
// use the same prefix; different prefixes isolate clusters sharing a broker.
// p must be one or more dot-separated tokens without whitespace, '*' or '>';
// New returns ErrInvalidPrefix otherwise.
func WithSubjectPrefix(p string) Option {
	return func(c *config) { c.prefix = p }
}

// WithErrorHandler sets a function called with every error that no call
// returns (undecodable messages, failed subscriptions, dropped messages), as
// a *core.AdapterError. It runs on the adapter's goroutines (or in Subscribe,
// for its first attempt) and must not block. A reporter installed with SetErrorReporter receives the
// same errors. nil means none (the default).
func WithErrorHandler(fn func(error)) Option {
	return func(c *config) { c.onError = fn }
}

// WithHealthTimeout bounds the broker round trip CheckHealth makes (default
// DefaultHealthTimeout). d must be positive; New returns ErrInvalidOption
// otherwise.
func WithHealthTimeout(d time.Duration) Option {
	return func(c *config) { c.healthTimeout = d }
}

func (c *config) validate() error {
	if err := validatePrefix(c.prefix); err != nil {
		return err
	}
	if c.healthTimeout <= 0 {
		return fmt.Errorf("%w: health timeout %v must be positive", ErrInvalidOption, c.healthTimeout)
	}
	return nil
}
