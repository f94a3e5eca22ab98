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
	// ErrNotRoomMessage is set by AppendHistory on a message that is not of
	// type core.AdapterRoom or core.AdapterRoomExcept: only rooms keep
	// history.
	ErrNotRoomMessage = errors.New("wshub/nats: history append of a message that is no room message")
	// ErrHistoryConflict is set by AppendHistory when other appenders to the
	// same room took every offset the message tried (see the package
	// documentation, "History"): the room is appended to faster than this
	// node can win a turn. The message was not stored.
	ErrHistoryConflict = errors.New("wshub/nats: history append lost every race for the next offset")
)
