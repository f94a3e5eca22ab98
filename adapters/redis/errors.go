package redis

import "errors"

// Sentinel errors of this package. Match them with errors.Is; most are
// returned wrapped with detail.
var (
	// ErrNilClient is returned by New when the client is nil.
	ErrNilClient = errors.New("wshub: redis: nil client")
	// ErrInvalidOption is returned by New for an empty channel prefix or a
	// health timeout that is not positive.
	ErrInvalidOption = errors.New("wshub: redis: invalid option")
	// ErrAlreadySubscribed is returned by a second call to Subscribe.
	ErrAlreadySubscribed = errors.New("wshub: redis: already subscribed")
	// ErrNilHandler is returned by Subscribe when the handler is nil.
	ErrNilHandler = errors.New("wshub: redis: nil handler")
	// ErrNotConnected is wrapped by CheckHealth whenever the subscription is
	// not live: before Subscribe, while Redis is unreachable, after a broken
	// connection until go-redis has subscribed again, and after Close.
	ErrNotConnected = errors.New("wshub: redis: not connected")
)
