package memory

import "errors"

// Sentinel errors of this package. Match them with errors.Is.
var (
	// ErrAlreadySubscribed is returned by a second call to Adapter.Subscribe.
	ErrAlreadySubscribed = errors.New("wshub: memory: already subscribed")
	// ErrNilHandler is returned by Adapter.Subscribe given a nil handler.
	ErrNilHandler = errors.New("wshub: memory: nil handler")
	// ErrNotReceiving is returned by Adapter.CheckHealth once the Subscribe
	// ctx ended and the adapter no longer delivers messages.
	ErrNotReceiving = errors.New("wshub: memory: not receiving: the Subscribe context ended")
	// ErrInboxFull is reported (wrapped in a core.AdapterError with Op
	// "subscribe") for each message dropped because the receiving adapter's
	// inbox was full.
	ErrInboxFull = errors.New("wshub: memory: inbox full")
)
