package core

// Limits bounds what clients may do. A zero field means unlimited, except
// MaxConnections.
type Limits struct {
	// MaxConnections caps concurrent connections on this hub. Upgrades over
	// the cap get HTTP 503 at once. Zero derives a cap from the process's
	// open-file limit (ulimit -n), leaving a tenth of it (at least 64) for
	// other files and sockets, so that a node refuses upgrades instead of
	// hanging them when it runs out of descriptors; Hub.MaxConnections
	// returns the cap in force. A negative value means no cap.
	MaxConnections int
	// MaxConnectionsPerUser caps concurrent connections per user ID. An
	// upgrade with WithUserID over the cap gets HTTP 429; SetUserID over the
	// cap returns ErrMaxUserConnectionsReached.
	MaxConnectionsPerUser int
	// MaxRoomsPerClient caps the rooms one client may be in (ErrMaxRoomsReached).
	MaxRoomsPerClient int
	// MaxClientsPerRoom caps the members of one room (ErrRoomFull).
	MaxClientsPerRoom int
	// MaxMessageRate caps inbound messages per second per client with a token
	// bucket whose burst equals the rate. Excess messages are dropped and
	// counted as IncrementErrors("rate_limit_exceeded"); the connection stays
	// open.
	MaxMessageRate int
}

// DefaultLimits returns Limits with everything unlimited, except the
// connection cap derived from the open-file limit (MaxConnections zero).
func DefaultLimits() Limits { return Limits{} }

// WithMaxConnections returns a copy of l with MaxConnections set to n.
func (l Limits) WithMaxConnections(n int) Limits { l.MaxConnections = n; return l }

// WithMaxConnectionsPerUser returns a copy of l with MaxConnectionsPerUser set to n.
func (l Limits) WithMaxConnectionsPerUser(n int) Limits { l.MaxConnectionsPerUser = n; return l }

// WithMaxRoomsPerClient returns a copy of l with MaxRoomsPerClient set to n.
func (l Limits) WithMaxRoomsPerClient(n int) Limits { l.MaxRoomsPerClient = n; return l }

// WithMaxClientsPerRoom returns a copy of l with MaxClientsPerRoom set to n.
func (l Limits) WithMaxClientsPerRoom(n int) Limits { l.MaxClientsPerRoom = n; return l }

// WithMaxMessageRate returns a copy of l with MaxMessageRate set to n.
func (l Limits) WithMaxMessageRate(n int) Limits { l.MaxMessageRate = n; return l }
