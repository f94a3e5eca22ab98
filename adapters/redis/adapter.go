package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/failure"
	"github.com/wshub/wshub/internal/wire"
)

// Adapter relays hub operations between nodes over Redis pub/sub. Build it
// with New; the zero value is not usable. See the package documentation for
// channels, goroutines and ownership of the client.
type Adapter struct {
	client        goredis.UniversalClient
	healthTimeout time.Duration
	failures      failure.Reporter

	chAll      string // <prefix>:all
	chPresence string // <prefix>:presence
	roomPrefix string // <prefix>:room:
	histPrefix string // <prefix>:history: (see history.go)
	// byInterest: the Subscribe ctx declared room interest, so room channels
	// follow it; otherwise one PSUBSCRIBE takes every room. Set by
	// Subscribe before the keeper starts, then read-only.
	byInterest bool

	closed atomic.Bool // set once by Close; checked by Publish without a lock
	bufs   sync.Pool   // *[]byte encoding buffers for Publish

	presRevs presenceRevs // the block of presence revisions (see presence.go)

	// wake tells the keeper that the desired room set changed. Capacity 1:
	// one pending signal covers any number of changes, because the keeper
	// reads the whole desired set; a send that finds it full is dropped.
	wake chan struct{}

	// firstAnswer is closed when Redis first answers the subscription, and
	// firstFailed when the first attempt to subscribe fails; Subscribe waits
	// for either.
	firstAnswer, firstFailed chan struct{}
	confirmOnce, failOnce    sync.Once

	// Link state, written by the receiver and the keeper.
	live     atomic.Bool  // the subscription answered since it last failed
	down     atomic.Bool  // the subscription failed and has not answered since
	lastRecv atomic.Int64 // nanoseconds since epoch of the last reply read
	epoch    time.Time    // set by Subscribe before the goroutines start
	// pingSent is when (since epoch) the keeper sent the ping it waits an
	// answer for, 0 when none; only the keeper goroutine uses it.
	pingSent time.Duration

	mu       sync.Mutex
	interest map[string]struct{} // rooms this node wants, by room name
	ps       *goredis.PubSub     // current subscription; replaced by the keeper only
	handler  func(core.AdapterMessage)
	linkErr  error // why the link is down, for CheckHealth
	started  bool  // Subscribe was called
	cancel   context.CancelFunc
	wg       sync.WaitGroup

	// Room interest confirmation (see confirm.go). interestVer and
	// confirmCh are guarded by mu; confirmedVer only grows.
	interestVer  uint64
	confirmedVer atomic.Uint64
	confirmCh    chan struct{} // closed and replaced when confirmedVer grows or the link goes down
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
)

// maxPooledBuf is the largest encoding buffer kept for reuse, so one huge
// message does not pin its buffer for the life of the process.
const maxPooledBuf = 64 << 10

// New returns an Adapter that publishes and subscribes through client. It
// neither dials nor starts goroutines; Subscribe does. The caller keeps
// ownership of client and closes it after Close. New returns ErrNilClient
// for a nil client and an error wrapping ErrInvalidOption for a bad option.
func New(client goredis.UniversalClient, opts ...Option) (*Adapter, error) {
	if client == nil {
		return nil, ErrNilClient
	}
	cfg := config{prefix: DefaultChannelPrefix, healthTimeout: DefaultHealthTimeout}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.prefix == "" {
		return nil, fmt.Errorf("%w: empty channel prefix", ErrInvalidOption)
	}
	if cfg.healthTimeout <= 0 {
		return nil, fmt.Errorf("%w: health timeout %v", ErrInvalidOption, cfg.healthTimeout)
	}
	a := &Adapter{
		client:        client,
		healthTimeout: cfg.healthTimeout,
		failures:      failure.Reporter{OnError: cfg.onError},
		chAll:         cfg.prefix + ":all",
		chPresence:    cfg.prefix + ":presence",
		roomPrefix:    cfg.prefix + ":room:",
		histPrefix:    cfg.prefix + ":history:",
		wake:          make(chan struct{}, 1),
		firstAnswer:   make(chan struct{}),
		firstFailed:   make(chan struct{}),
		interest:      make(map[string]struct{}),
		linkErr:       fmt.Errorf("%w: not subscribed", ErrNotConnected),
		confirmCh:     make(chan struct{}),
	}
	return a, nil
}

// channel returns the Redis channel that carries msg.
func (a *Adapter) channel(msg *core.AdapterMessage) string {
	switch msg.Type {
	case core.AdapterRoom, core.AdapterRoomExcept:
		return a.roomPrefix + msg.Room
	case core.AdapterPresence:
		return a.chPresence
	default:
		return a.chAll
	}
}

// roomChannel returns the Redis channel of room.
func (a *Adapter) roomChannel(room string) string { return a.roomPrefix + room }

// isRoomChannelOf reports whether channel is the room channel msg belongs
// on: a room message published by an adapter with our prefix.
func (a *Adapter) isRoomChannelOf(channel string, msg *core.AdapterMessage) bool {
	return (msg.Type == core.AdapterRoom || msg.Type == core.AdapterRoomExcept) && channel == a.roomChannel(msg.Room)
}

// anyRoomPattern is the PSUBSCRIBE pattern of every room channel: the
// prefix with Redis's glob characters escaped, then "*".
func (a *Adapter) anyRoomPattern() string {
	var b strings.Builder
	for _, r := range a.roomPrefix {
		if strings.ContainsRune(`*?[]\^-`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('*')
	return b.String()
}

// subscribeBase subscribes ps to the broadcast and presence channels plus
// chans, and to every room channel unless rooms follow declared interest.
func (a *Adapter) subscribeBase(ctx context.Context, ps *goredis.PubSub, chans ...string) error {
	err := ps.Subscribe(ctx, append([]string{a.chAll, a.chPresence}, chans...)...)
	if a.byInterest {
		return err
	}
	// Called even when Subscribe failed: go-redis records the pattern and
	// subscribes it again on reconnect, as it does the channels.
	return errors.Join(err, ps.PSubscribe(ctx, a.anyRoomPattern()))
}

func (a *Adapter) getBuf() *[]byte {
	if bp, ok := a.bufs.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, 512)
	return &b
}

func (a *Adapter) putBuf(bp *[]byte, b []byte) {
	if cap(b) > maxPooledBuf {
		return
	}
	*bp = b[:0]
	a.bufs.Put(bp)
}

// Connected reports false while the subscription's connection has failed
// and not come back; the hub then drops what it would publish instead of
// handing it over (core.LinkStateAdapter). Before the first answer from
// Redis, and after the subscription ended with its context, it reports
// true: publishing may still work then.
func (a *Adapter) Connected() bool { return !a.down.Load() }

// Publish sends msg to the other nodes with one PUBLISH. It first waits
// until Redis has confirmed the room subscriptions declared before the call
// (at most the health timeout; see SetRoomInterest). It is safe for
// concurrent use and returns core.ErrAdapterClosed after Close, ctx's error
// if ctx is already done, or the client's error wrapped with the channel
// name. See the package documentation on how ctx bounds the call.
func (a *Adapter) Publish(ctx context.Context, msg core.AdapterMessage) error {
	if a.closed.Load() {
		return core.ErrAdapterClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	a.awaitInterest(ctx)
	ch := a.channel(&msg)
	bp := a.getBuf()
	b := wire.Append((*bp)[:0], &msg)
	// go-redis has written the payload to the socket (or failed) when Publish
	// returns and keeps no reference to it, so the buffer can be reused.
	err := a.client.Publish(ctx, ch, b).Err()
	a.putBuf(bp, b)
	if err != nil {
		return fmt.Errorf("wshub: redis: publish to %q: %w", ch, err)
	}
	return nil
}

// PublishBatch sends msgs, in order, with one pipelined round trip, after
// waiting for room subscriptions as Publish does. It returns nil for an
// empty batch, core.ErrAdapterClosed after Close, and
// otherwise the first failure of the pipeline; on failure some messages of
// the batch may have been delivered. Order is kept on single-node, failover
// and ring clients, which send the pipeline over one connection.
func (a *Adapter) PublishBatch(ctx context.Context, msgs []core.AdapterMessage) error {
	if a.closed.Load() {
		return core.ErrAdapterClosed
	}
	if len(msgs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	a.awaitInterest(ctx)
	// Encode every message into one buffer, remembering where each ends,
	// and slice it only once it no longer grows.
	bp := a.getBuf()
	b := (*bp)[:0]
	ends := make([]int, len(msgs))
	for i := range msgs {
		b = wire.Append(b, &msgs[i])
		ends[i] = len(b)
	}
	pipe := a.client.Pipeline()
	start := 0
	for i := range msgs {
		pipe.Publish(ctx, a.channel(&msgs[i]), b[start:ends[i]:ends[i]])
		start = ends[i]
	}
	_, err := pipe.Exec(ctx)
	a.putBuf(bp, b)
	if err != nil {
		return fmt.Errorf("wshub: redis: publish batch of %d: %w", len(msgs), err)
	}
	return nil
}

// Close stops the goroutines Subscribe started, waits for them and ends the
// subscription. Later Publish calls return core.ErrAdapterClosed. The client
// stays open. Close is idempotent and always returns nil.
func (a *Adapter) Close() error {
	a.mu.Lock()
	if a.closed.Load() {
		a.mu.Unlock()
		return nil
	}
	a.closed.Store(true)
	cancel := a.cancel
	a.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	a.wg.Wait()
	return nil
}

// SetErrorReporter installs the function called with every failure no method
// returns (Op "subscribe", "decode" or "version"). The hub calls it before
// Subscribe; a nil report removes the reporter.
func (a *Adapter) SetErrorReporter(report func(*core.AdapterError)) { a.failures.Set(report) }
