package nats

import "errors"

// Sentinel errors of the adapter. Match them with errors.Is; most are
// returned wrapped with details.
var (
	// ErrNilConn is returned by New when given a nil connection.
	ErrNilConn = errors.New("wshub/nats: nil connection")
	// ErrInvalidPrefix is returned by New for a subject prefix that is not a
	// sequence of valid NATS subject tokens.
	ErrInvalidPrefix = errors.New("wshub/nats: invalid subject prefix")
	// ErrInvalidOption is returned by New for an option value out of range.
	ErrInvalidOption = errors.New("wshub/nats: invalid option")
	// ErrAlreadySubscribed is returned by a second call to Subscribe.
	ErrAlreadySubscribed = errors.New("wshub/nats: already subscribed")
	// ErrNilHandler is returned by Subscribe when given a nil handler.
	ErrNilHandler = errors.New("wshub/nats: nil handler")
	// ErrNotConnected is returned by CheckHealth while the connection is not
	// established or does not answer a round trip in time.
	ErrNotConnected = errors.New("wshub/nats: not connected")
	// ErrNotSubscribed is returned by CheckHealth before Subscribe, after the
	// subscription context ended, or while the base subscriptions are not
	// in place.
	ErrNotSubscribed = errors.New("wshub/nats: not subscribed")
)
