package nats

import (
	"fmt"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultSubjectPrefix is the subject prefix used without WithSubjectPrefix.
const DefaultSubjectPrefix = "wshub"

// DefaultHealthTimeout bounds the round trip of CheckHealth without
// WithHealthTimeout.
const DefaultHealthTimeout = time.Second

// Option configures an Adapter in New.
type Option func(*config)

type config struct {
	prefix          string
	onError         func(error)
	healthTimeout   time.Duration
	historyStorage  jetstream.StorageType
	historyReplicas int

	presenceTTL      time.Duration
	presenceStorage  jetstream.StorageType
	presenceReplicas int
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

// WithHistoryStorage sets where the JetStream streams of history rooms keep
// their messages: jetstream.FileStorage (the default), which survives a
// broker restart, or jetstream.MemoryStorage. It applies when the adapter
// creates or updates a stream, so all nodes must use the same value. New
// returns ErrInvalidOption for another value.
func WithHistoryStorage(st jetstream.StorageType) Option {
	return func(c *config) { c.historyStorage = st }
}

// MaxHistoryReplicas is the most replicas JetStream keeps of a stream.
const MaxHistoryReplicas = 5

// WithHistoryReplicas sets how many servers of a NATS cluster keep each
// history stream (default 1; 3 survives the loss of one server). It applies
// when the adapter creates or updates a stream, so all nodes must use the
// same value. n must be between 1 and MaxHistoryReplicas and no more than
// the cluster's JetStream servers; New returns ErrInvalidOption outside
// 1..MaxHistoryReplicas, JetStream refuses to create a stream with more
// replicas than servers (AppendHistory then fails).
func WithHistoryReplicas(n int) Option {
	return func(c *config) { c.historyReplicas = n }
}

// DefaultPresenceTTL is how long the presence bucket keeps a record that
// is not rewritten, without WithPresenceTTL.
const DefaultPresenceTTL = 2 * time.Minute

// MinPresenceTTL is the shortest TTL WithPresenceTTL accepts.
const MinPresenceTTL = time.Second

// WithPresenceTTL sets how long the presence bucket keeps a member record
// and a deleted record's marker (the bucket's MaxAge; default
// DefaultPresenceTTL). Adapter.PresenceTTL returns it, and a hub rewrites
// its members' records every third of it, so records outlive only a
// cluster that stopped without removing them, by at most d. Deletes leave
// a marker for d too (NATS 2.9 has no per-message TTL), so d also bounds
// what a room's churn leaves behind for ListPresence to skip. It applies
// when the adapter creates or updates the bucket, so all nodes must use the
// same value. New returns ErrInvalidOption for d under MinPresenceTTL.
func WithPresenceTTL(d time.Duration) Option {
	return func(c *config) { c.presenceTTL = d }
}

// WithPresenceStorage sets where the presence bucket keeps its records:
// jetstream.FileStorage (the default), which survives a broker restart, or
// jetstream.MemoryStorage, which is faster and loses them (the hubs write
// their members again within a third of the TTL, firing their joins
// again). It applies when the adapter creates the bucket (JetStream cannot
// change it afterwards), so all nodes must use the same value. New returns
// ErrInvalidOption for another value.
func WithPresenceStorage(st jetstream.StorageType) Option {
	return func(c *config) { c.presenceStorage = st }
}

// WithPresenceReplicas sets how many servers of a NATS cluster keep the
// presence bucket (default 1; 3 survives the loss of one server), as
// WithHistoryReplicas does for history streams, and with the same limits.
func WithPresenceReplicas(n int) Option {
	return func(c *config) { c.presenceReplicas = n }
}

func (c *config) validate() error {
	if err := validatePrefix(c.prefix); err != nil {
		return err
	}
	if c.healthTimeout <= 0 {
		return fmt.Errorf("%w: health timeout %v must be positive", ErrInvalidOption, c.healthTimeout)
	}
	if c.historyStorage != jetstream.FileStorage && c.historyStorage != jetstream.MemoryStorage {
		return fmt.Errorf("%w: history storage %v", ErrInvalidOption, c.historyStorage)
	}
	if c.historyReplicas < 1 || c.historyReplicas > MaxHistoryReplicas {
		return fmt.Errorf("%w: history replicas %d not in 1..%d", ErrInvalidOption, c.historyReplicas, MaxHistoryReplicas)
	}
	if c.presenceTTL < MinPresenceTTL {
		return fmt.Errorf("%w: presence TTL %v under %v", ErrInvalidOption, c.presenceTTL, MinPresenceTTL)
	}
	if c.presenceStorage != jetstream.FileStorage && c.presenceStorage != jetstream.MemoryStorage {
		return fmt.Errorf("%w: presence storage %v", ErrInvalidOption, c.presenceStorage)
	}
	if c.presenceReplicas < 1 || c.presenceReplicas > MaxHistoryReplicas {
		return fmt.Errorf("%w: presence replicas %d not in 1..%d", ErrInvalidOption, c.presenceReplicas, MaxHistoryReplicas)
	}
	return nil
}

// Timing of ConnectOptions.
const (
	// ReconnectWait is the pause between two reconnect attempts to one
	// server; with the jitter below, a node is back within half a second of
	// the broker's return.
	ReconnectWait = 250 * time.Millisecond
	// ReconnectJitter is the most that is added at random to each wait, so
	// the nodes of a cluster do not reconnect in the same instant.
	ReconnectJitter = 250 * time.Millisecond
	// FlusherTimeout bounds one write to the broker's socket.
	FlusherTimeout = time.Second
)

// ConnectOptions returns the nats.go options the adapter is designed for;
// pass them to natsgo.Connect before your own (natsfx does):
//   - unlimited reconnects, every ReconnectWait plus up to ReconnectJitter
//     (nats.go's default waits 2 s, which is most of the traffic lost after a
//     broker restart);
//   - no reconnect buffer (natsgo.ReconnectBufSize(-1)): nats.go would
//     otherwise keep what is published while it reconnects and send it, as
//     one burst and seconds late, when the link returns. The adapter
//     already refuses to publish while the connection is down; without the
//     buffer, a message that races with the disconnect fails too, and its
//     receivers count it lost instead of getting it late;
//   - a write to the broker that stalls for FlusherTimeout fails and
//     reconnects (nats.go's default waits a minute). nats.go holds the
//     connection's lock while it writes, and Publish and SetRoomInterest
//     take that lock, so this bounds how long a broker that stopped reading
//     can hold them.
func ConnectOptions() []natsgo.Option {
	return []natsgo.Option{
		natsgo.MaxReconnects(-1),
		natsgo.ReconnectWait(ReconnectWait),
		natsgo.ReconnectJitter(ReconnectJitter, ReconnectJitter),
		natsgo.ReconnectBufSize(-1),
		natsgo.FlusherTimeout(FlusherTimeout),
	}
}
