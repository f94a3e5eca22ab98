package nats

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/failure"
	"github.com/wshub/wshub/internal/wire"
)

// maxPooledBuf is the largest encode buffer kept for reuse; bigger ones
// (rare, large payloads) are left to the garbage collector.
const maxPooledBuf = 64 << 10

// Adapter relays hub operations over NATS core pub/sub and keeps the
// history of rooms that want one in JetStream (AppendHistory,
// ReadHistory). Create it with New, then the hub calls Subscribe once and
// Close at shutdown.
type Adapter struct {
	nc            *natsgo.Conn
	subj          subjects
	healthTimeout time.Duration
	failures      failure.Reporter
	hist          *historyStore  // history rooms on JetStream (history.go)
	pres          *presenceStore // member records on JetStream (presence.go)

	closed atomic.Bool
	bufs   sync.Pool // *[]byte encode buffers

	// wake (capacity 1) tells the reconciler that desired room interest
	// changed; a full channel already carries the news, so senders drop.
	wake chan struct{}
	stop chan struct{} // closed by Close
	wg   sync.WaitGroup

	mu         sync.Mutex
	subscribed bool
	desired    map[string]struct{} // rooms this node wants traffic for
	dirty      map[string]struct{} // rooms whose subscription failed and must be retried
	allSub     *natsgo.Subscription
	presSub    *natsgo.Subscription
	baseErr    error // last failure to create a base subscription
	// Set by Subscribe; rooms is then changed by SetRoomInterest and the
	// reconciler, both under mu. byInterest: the Subscribe ctx declared
	// room interest, so rooms are subscribed one by one.
	inbox      chan *natsgo.Msg
	rooms      map[string]*sub
	byInterest bool
	stopped    bool // the reconciler removed every subscription
}

var (
	_ core.Adapter               = (*Adapter)(nil)
	_ core.BatchPublisher        = (*Adapter)(nil)
	_ core.RoomInterestAdapter   = (*Adapter)(nil)
	_ core.HealthCheckAdapter    = (*Adapter)(nil)
	_ core.ErrorReportingAdapter = (*Adapter)(nil)
	_ core.LinkStateAdapter      = (*Adapter)(nil)
	_ core.HistoryAdapter        = (*Adapter)(nil)
	_ core.PresenceAdapter       = (*Adapter)(nil)
	_ core.PresenceTTLAdapter    = (*Adapter)(nil)
)

// New returns an Adapter publishing and subscribing on nc. It validates the
// options and neither talks to the broker nor starts goroutines. nc stays
// owned by the caller, who closes it after Close. Errors: ErrNilConn,
// ErrInvalidPrefix, ErrInvalidOption.
func New(nc *natsgo.Conn, opts ...Option) (*Adapter, error) {
	if nc == nil {
		return nil, ErrNilConn
	}
	cfg := config{
		prefix:          DefaultSubjectPrefix,
		healthTimeout:   DefaultHealthTimeout,
		historyStorage:  jetstream.FileStorage,
		historyReplicas: 1,

		presenceTTL:      DefaultPresenceTTL,
		presenceStorage:  jetstream.FileStorage,
		presenceReplicas: 1,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a := &Adapter{
		nc:            nc,
		subj:          newSubjects(cfg.prefix),
		healthTimeout: cfg.healthTimeout,
		failures:      failure.Reporter{OnError: cfg.onError},
		wake:          make(chan struct{}, 1),
		stop:          make(chan struct{}),
		desired:       make(map[string]struct{}),
		dirty:         make(map[string]struct{}),
	}
	hist, err := newHistoryStore(nc, a.subj, cfg, &a.failures, a.stop)
	if err != nil {
		return nil, err
	}
	a.hist = hist
	a.pres = newPresenceStore(nc, hist.js, a.subj, cfg, &a.failures)
	return a, nil
}

// Publish sends msg to the other nodes. It does not wait for the broker's
// answer: nats.go buffers the message, writing to the socket itself only
// when its buffer is full. While the connection is not established Publish
// refuses the message (ErrNotConnected) rather than let nats.go keep it in
// its reconnect buffer and replay it, stale, when the link returns; a
// connection made with natsgo.ReconnectBufSize(-1) closes the instant
// between that check and the write too (see the package documentation).
// Publish returns nats.go's error when it cannot, e.g.
// natsgo.ErrReconnectBufExceeded or natsgo.ErrConnectionClosed. It returns
// ctx's error if ctx is already done, core.ErrAdapterClosed after Close and
// core.ErrEmptyRoomName for a room message without a room. Messages of a
// Type that is none of the core.Adapter* constants travel with the
// broadcasts (the envelope carries any type name).
func (a *Adapter) Publish(ctx context.Context, msg core.AdapterMessage) error {
	if a.closed.Load() {
		return core.ErrAdapterClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	bp := a.getBuf()
	defer a.putBuf(bp)
	return a.publish(bp, &msg)
}

// PublishBatch publishes msgs in order, as Publish would each, and returns
// the first error; a failed message does not stop the others, except that
// it stops early once ctx is done or the adapter is closed.
func (a *Adapter) PublishBatch(ctx context.Context, msgs []core.AdapterMessage) error {
	if a.closed.Load() {
		return core.ErrAdapterClosed
	}
	bp := a.getBuf()
	defer a.putBuf(bp)
	var first error
	for i := range msgs {
		if a.closed.Load() {
			return firstErr(first, core.ErrAdapterClosed)
		}
		if err := ctx.Err(); err != nil {
			return firstErr(first, err)
		}
		if err := a.publish(bp, &msgs[i]); err != nil && first == nil {
			first = err
		}
	}
	return first
}

func firstErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// publish encodes msg into *bp (reusing its storage) and hands it to nats.go,
// which copies it before returning.
func (a *Adapter) publish(bp *[]byte, msg *core.AdapterMessage) error {
	subj, err := a.subjectFor(msg)
	if err != nil {
		return err
	}
	if !a.nc.IsConnected() {
		return fmt.Errorf("wshub/nats: publish %s: %w: connection %s", msg.Type, ErrNotConnected, a.nc.Status())
	}
	*bp = wire.Append((*bp)[:0], msg)
	if err := a.nc.Publish(subj, *bp); err != nil {
		return fmt.Errorf("wshub/nats: publish %s to %q: %w", msg.Type, subj, err)
	}
	return nil
}

func (a *Adapter) subjectFor(msg *core.AdapterMessage) (string, error) {
	switch msg.Type {
	case core.AdapterRoom, core.AdapterRoomExcept:
		if msg.Room == "" {
			return "", fmt.Errorf("wshub/nats: publish %s: %w", msg.Type, core.ErrEmptyRoomName)
		}
		return a.subj.roomSubject(msg.Room), nil
	case core.AdapterPresence:
		return a.subj.presence, nil
	default: // broadcast, broadcast_except, user, client and unknown types
		return a.subj.all, nil
	}
}

func (a *Adapter) getBuf() *[]byte {
	if bp, ok := a.bufs.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, 512)
	return &b
}

func (a *Adapter) putBuf(bp *[]byte) {
	if cap(*bp) <= maxPooledBuf {
		a.bufs.Put(bp)
	}
}

// Connected reports whether the NATS connection is established; while it
// is not, the hub drops what it would publish instead of handing it over
// (core.LinkStateAdapter).
func (a *Adapter) Connected() bool { return a.nc.IsConnected() }

// SetRoomInterest records whether this node wants the traffic of room and,
// after Subscribe, subscribes to or unsubscribes from the room's subject
// before it returns. That writes the SUB into the connection's buffer, ahead
// of every message this node publishes afterwards, so the broker applies
// the subscription before it routes them. It does not wait for the broker's
// answer (nats.go sends the subscription when it is connected, again after
// every reconnect), but it takes the connection's lock, which nats.go holds
// while it writes to the socket: dial with ConnectOptions so that a broker
// that stops reading cannot hold it longer than FlusherTimeout. A subscription that fails (the connection is closed) is
// retried by the reconciler. Interest recorded before Subscribe is applied
// by Subscribe. An empty room name is ignored. It has no effect unless the
// Subscribe context came from core.WithRoomInterest: without it the adapter
// receives every room.
func (a *Adapter) SetRoomInterest(room string, interested bool) {
	if room == "" {
		return
	}
	a.mu.Lock()
	if interested {
		a.desired[room] = struct{}{}
	} else {
		delete(a.desired, room)
	}
	retry := false
	if a.rooms != nil && a.byInterest && !a.stopped {
		retry = !a.applyRoomLocked(room, interested)
	} else {
		a.dirty[room] = struct{}{}
	}
	a.mu.Unlock()
	if retry {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

// applyRoomLocked subscribes to or unsubscribes from room's subject so that
// it matches interested, and reports whether that worked; a failed room is
// marked dirty for the reconciler. a.mu is held.
func (a *Adapter) applyRoomLocked(room string, interested bool) bool {
	cur, have := a.rooms[room]
	switch {
	case interested && !have:
		subj := a.subj.roomSubject(room)
		s, err := a.nc.ChanSubscribe(subj, a.inbox)
		if err != nil {
			a.failures.Fail("subscribe", fmt.Errorf("room %q (%s): %w", room, subj, err))
			a.dirty[room] = struct{}{}
			return false
		}
		a.rooms[room] = &sub{s: s}
	case !interested && have:
		// An error means the subscription is already gone (closed
		// connection); either way the broker no longer sends it.
		_ = cur.s.Unsubscribe()
		delete(a.rooms, room)
	}
	delete(a.dirty, room)
	return true
}

// SetErrorReporter installs report, called from the adapter's goroutines (or
// in Subscribe, for its first attempt) with every failure no call returns: Op "subscribe" for failed
// subscriptions and messages dropped as a slow consumer, "decode" for
// undecodable messages and "version" for envelopes of a newer version. It
// replaces a previous reporter; nil removes it. report must not block.
func (a *Adapter) SetErrorReporter(report func(*core.AdapterError)) { a.failures.Set(report) }

// Close stops the adapter's goroutines, waits for them (a handler call in
// progress included) and removes its subscriptions. It does not close the
// NATS connection. Publish afterwards returns core.ErrAdapterClosed. Close
// is idempotent and always returns nil.
func (a *Adapter) Close() error {
	a.mu.Lock()
	if a.closed.Load() {
		a.mu.Unlock()
		return nil
	}
	a.closed.Store(true)
	close(a.stop)
	a.mu.Unlock()
	a.wg.Wait()
	return nil
}
