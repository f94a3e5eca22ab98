package memory

// DefaultInboxSize is the number of messages an adapter's inbox holds when
// WithInboxSize is not given. It absorbs a burst of roughly one publisher
// batch per hub while the receiving hub's handler catches up; a hub's
// handler only enqueues to local clients, so it drains the inbox quickly.
const DefaultInboxSize = 1024

// Option configures an Adapter in Bus.NewAdapter.
type Option func(*options)

type options struct {
	inboxSize int
}

// WithInboxSize sets how many undelivered messages the adapter holds before
// it drops new ones (default DefaultInboxSize). Values below 1 leave the
// default in place.
func WithInboxSize(n int) Option {
	return func(o *options) {
		if n >= 1 {
			o.inboxSize = n
		}
	}
}
