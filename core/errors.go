package core

import "errors"

// Sentinel errors returned by the hub and its clients. Match them with
// errors.Is: some are returned wrapped with extra context.
var (
	// ErrConnectionClosed is returned by sends to a client that is closed or closing.
	ErrConnectionClosed = errors.New("wshub: connection closed")
	// ErrInvalidMessage reports a message no handler accepted, or a handler panic
	// turned into an error by RecoveryMiddleware.
	ErrInvalidMessage = errors.New("wshub: invalid message")
	// ErrInvalidUTF8 is returned by text sends whose payload is not valid
	// UTF-8: browsers fail a connection that receives such a frame, so the
	// hub never writes one (see Config.DisableUTF8Validation).
	ErrInvalidUTF8 = errors.New("wshub: text message is not valid UTF-8")
	// ErrUnauthorized is for applications: a BeforeConnect hook may return
	// it (wrapped or not) to refuse an upgrade. The hub never returns it.
	ErrUnauthorized = errors.New("wshub: unauthorized")
	// ErrSendBufferFull is returned by a send that found the client's queue at
	// its bounds under the DropNewest or DisconnectSlow policy.
	ErrSendBufferFull = errors.New("wshub: send buffer full")

	// ErrClientNotFound is returned when no local client has the given ID and no
	// adapter could relay the message to another node.
	ErrClientNotFound = errors.New("wshub: client not found")

	// ErrEmptyRoomName is returned by room operations given an empty name.
	ErrEmptyRoomName = errors.New("wshub: empty room name")
	// ErrRoomNotFound is returned for a room that does not exist on this node.
	ErrRoomNotFound = errors.New("wshub: room not found")
	// ErrAlreadyInRoom is returned when joining a room the client is already in.
	ErrAlreadyInRoom = errors.New("wshub: client already in room")
	// ErrNotInRoom is returned when leaving a room the client is not in.
	ErrNotInRoom = errors.New("wshub: client not in room")
	// ErrRoomFull is returned when Limits.MaxClientsPerRoom is reached.
	ErrRoomFull = errors.New("wshub: room is full")

	// ErrMaxConnectionsReached is returned when Limits.MaxConnections is reached.
	ErrMaxConnectionsReached = errors.New("wshub: max connections reached")
	// ErrMaxRoomsReached is returned when Limits.MaxRoomsPerClient is reached.
	ErrMaxRoomsReached = errors.New("wshub: max rooms per client reached")
	// ErrRateLimitExceeded is for applications' own hooks and handlers; the hub's
	// inbound rate limiter drops excess messages and counts them instead of
	// returning it.
	ErrRateLimitExceeded = errors.New("wshub: rate limit exceeded")
	// ErrMaxUserConnectionsReached is returned when Limits.MaxConnectionsPerUser
	// is reached for a user ID.
	ErrMaxUserConnectionsReached = errors.New("wshub: max connections per user reached")

	// ErrHubNotStarted is returned by operations that need a running hub.
	ErrHubNotStarted = errors.New("wshub: hub not started")
	// ErrHubDraining is returned while the hub drains.
	ErrHubDraining = errors.New("wshub: hub is draining")
	// ErrHubStopped is returned after Shutdown.
	ErrHubStopped = errors.New("wshub: hub is stopped")

	// ErrAuthenticationFailed is for applications' BeforeConnect hooks and
	// handlers; the hub never returns it itself.
	ErrAuthenticationFailed = errors.New("wshub: authentication failed")

	// ErrAdapterClosed is returned by adapters' Publish after Close.
	ErrAdapterClosed = errors.New("wshub: adapter closed")

	// ErrHandlerPanicked is the outcome a Tracer's message span ends with
	// when the message's handler panicked (the hub closed the connection).
	ErrHandlerPanicked = errors.New("wshub: message handler panicked")
)
