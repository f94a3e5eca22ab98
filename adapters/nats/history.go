package nats

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/backoff"
	"github.com/wshub/wshub/internal/failure"
	"github.com/wshub/wshub/internal/wire"
)

// Headers of a stored history message (see the package documentation,
// "History"). Nats-Msg-Id and Nats-Expected-Last-Subject-Sequence are
// JetStream's own.
const (
	hdrEpoch        = "Wshub-Epoch"
	hdrOffset       = "Wshub-Offset"
	hdrExpectedLast = jetstream.ExpectedLastSubjSeqHeader
	hdrMsgID        = jetstream.MsgIDHeader
)

const (
	// maxAppendRaces bounds how often one AppendHistory message may lose
	// the race for its room's next offset. With n nodes appending to one
	// room as fast as they can, each attempt wins about one time in n, so
	// a message fails with probability (1-1/n)^64: 5e-12 for 3 nodes, 1e-3
	// for 10.
	maxAppendRaces = 64
	// maxAppendRetries bounds the other failed attempts of one message:
	// timed-out requests, JetStream unavailable, the stream recreated.
	maxAppendRetries = 8
	// historyRequestTimeout bounds each request to JetStream in addition to
	// the caller's ctx, so that one lost answer (a stream leader that just
	// died) costs a retry, not the caller's whole deadline.
	historyRequestTimeout = 2 * time.Second
	// minRetryBackoff and maxRetryBackoff are the first and the largest
	// window of the pause before retrying a request that timed out or
	// found JetStream unavailable. Each pause is drawn from the upper half
	// of its window (internal/backoff's equal jitter), so that appends
	// that failed together do not retry together, while the pauses between
	// the maxAppendRetries attempts still add up to at least half of the
	// 3.55 s they added up to unjittered, 2.7 s on average. Full jitter
	// would halve the time a message waits out a stream leader election.
	minRetryBackoff = 50 * time.Millisecond
	maxRetryBackoff = time.Second
	// minHistoryTTL is the shortest MaxAge JetStream accepts (2.9 refuses
	// less with error 10052); shorter TTLs are raised to it.
	minHistoryTTL = 100 * time.Millisecond
	// historyDuplicates is the duplicate window of the streams (or the TTL
	// when shorter, as JetStream requires): long enough to cover the
	// retries of one message, short enough that the server's table of
	// recent message IDs stays small.
	historyDuplicates = 30 * time.Second
	// maxCachedRooms bounds the per-stream cache of room tips; past it an
	// arbitrary entry is dropped, which costs that room one read.
	maxCachedRooms = 1 << 14
	// jsAPIPrefix is the subject prefix of the JetStream API that
	// jetstream.New uses too.
	jsAPIPrefix = jetstream.DefaultAPIPrefix
)

// historyKey identifies the stream that keeps rooms with one History:
// its Size, and its TTL in whole milliseconds (0: none).
type historyKey struct {
	size  int
	ttlMS int64
}

// historyKeyOf maps h to its stream: a negative TTL means none, one under
// minHistoryTTL is raised to it.
func historyKeyOf(h core.History) historyKey {
	ttl := max(h.TTL, 0)
	if ttl > 0 && ttl < minHistoryTTL {
		ttl = minHistoryTTL
	}
	return historyKey{size: h.Size, ttlMS: ttl.Milliseconds()}
}

func (k historyKey) ttl() time.Duration { return time.Duration(k.ttlMS) * time.Millisecond }

// historyStore keeps the history rooms of one adapter in JetStream: the
// streams it has made sure of and, per room, the last message it knows
// (the room's tip). It starts no goroutine. Safe for concurrent use; its
// lock is never held across a request.
type historyStore struct {
	nc       *natsgo.Conn
	js       jetstream.JetStream
	subj     subjects
	storage  jetstream.StorageType
	replicas int
	failures *failure.Reporter
	stop     <-chan struct{} // the adapter's: closed by Close

	mu      sync.Mutex
	streams map[historyKey]*historyStream
}

// historyStream is one stream: its names and, under historyStore.mu,
// whether this adapter created or updated it and the tips of its rooms.
type historyStream struct {
	key  historyKey
	name string
	base string // subject prefix of its rooms, ending in "."

	ready bool
	tips  map[string]roomTip // by room subject
}

// roomTip is the last message of a room's subject as far as this adapter
// knows: its stream sequence (0: the subject has none) and its position
// (zero: it has none readable, the next message starts an epoch).
type roomTip struct {
	seq uint64
	pos core.Position
}

// next returns the position of the message that follows t.
func (t roomTip) next() core.Position {
	if t.seq == 0 || t.pos.Offset == 0 {
		return core.Position{Epoch: core.NewEpoch(), Offset: 1}
	}
	return core.Position{Epoch: t.pos.Epoch, Offset: t.pos.Offset + 1}
}

func newHistoryStore(nc *natsgo.Conn, subj subjects, cfg config, failures *failure.Reporter, stop <-chan struct{}) (*historyStore, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("wshub/nats: jetstream: %w", err)
	}
	return &historyStore{
		nc:       nc,
		js:       js,
		subj:     subj,
		storage:  cfg.historyStorage,
		replicas: cfg.historyReplicas,
		failures: failures,
		stop:     stop,
		streams:  make(map[historyKey]*historyStream),
	}, nil
}

// stream returns the stream of k, registering it on first use.
func (h *historyStore) stream(k historyKey) *historyStream {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.streams[k]
	if st == nil {
		st = &historyStream{key: k, name: h.subj.historyStream(k), base: h.subj.historyBase(k), tips: make(map[string]roomTip)}
		h.streams[k] = st
	}
	return st
}

func (h *historyStore) isReady(st *historyStream) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return st.ready
}

// lost records that st is gone from JetStream: it is created again before
// the next append, and the tips of its rooms are forgotten (a new stream
// numbers its messages from 1 again).
func (h *historyStore) lost(st *historyStream) {
	h.mu.Lock()
	st.ready = false
	clear(st.tips)
	h.mu.Unlock()
}

func (h *historyStore) tip(st *historyStream, subj string) (roomTip, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t, ok := st.tips[subj]
	return t, ok
}

func (h *historyStore) setTip(st *historyStream, subj string, t roomTip) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := st.tips[subj]; !ok && len(st.tips) >= maxCachedRooms {
		for k := range st.tips {
			delete(st.tips, k)
			break
		}
	}
	st.tips[subj] = t
}

// config returns the stream configuration of st. Every field is one that
// NATS 2.9 knows.
func (h *historyStore) config(st *historyStream) jetstream.StreamConfig {
	ttl := st.key.ttl()
	dups := historyDuplicates
	if ttl > 0 {
		dups = min(dups, ttl)
	}
	return jetstream.StreamConfig{
		Name:              st.name,
		Description:       "wshub room history",
		Subjects:          []string{st.base + "*"},
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: int64(st.key.size),
		MaxAge:            ttl,
		Duplicates:        dups,
		Storage:           h.storage,
		Replicas:          h.replicas,
		AllowDirect:       true,
	}
}

// ensure creates st, or updates it to this adapter's configuration.
func (h *historyStore) ensure(ctx context.Context, st *historyStream) error {
	rctx, cancel := context.WithTimeout(ctx, historyRequestTimeout)
	defer cancel()
	if _, err := h.js.CreateOrUpdateStream(rctx, h.config(st)); err != nil {
		return fmt.Errorf("create stream %s: %w", st.name, noJetStream(err))
	}
	h.mu.Lock()
	st.ready = true
	h.mu.Unlock()
	return nil
}

// AppendHistory stores each message of batch in its room's history (see
// core.HistoryAdapter), in order, and sets its Msg.Pos; once JetStream has
// acknowledged a message it publishes the stored bytes on the room's subject
// (the one Publish uses), so the other nodes receive it, with its position,
// through their room subscriptions: in offset order for the messages of
// one node, while those of several nodes may arrive in another order than
// their offsets (see the package documentation, "History"). A failure of
// that publish is reported (Op "publish"), not returned: the message is
// stored. A message that was not stored reaches no node and gets Err (its
// Pos is cleared): core.ErrAdapterClosed after Close,
// ctx's error, ErrNotConnected while the connection is down,
// ErrNotRoomMessage, core.ErrEmptyRoomName, core.ErrNoHistory for
// Options that keep none, ErrHistoryConflict when it lost the race for the
// room's next offset to other nodes 64 times, or JetStream's error. It
// blocks until each message is stored or failed; every request is bounded
// by ctx and by 2 s, a timed-out one is retried (without storing the
// message twice). The first append to a History creates its stream.
func (a *Adapter) AppendHistory(ctx context.Context, batch []core.HistoryAppend) {
	bp := a.getBuf()
	defer a.putBuf(bp)
	for i := range batch {
		it := &batch[i]
		it.Err = a.appendHistory(ctx, bp, &it.Msg, it.Options)
		if it.Err != nil {
			it.Msg.Pos = core.Position{}
		}
	}
}

func (a *Adapter) appendHistory(ctx context.Context, bp *[]byte, m *core.AdapterMessage, opts core.History) error {
	if a.closed.Load() {
		return core.ErrAdapterClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	switch {
	case m.Type != core.AdapterRoom && m.Type != core.AdapterRoomExcept:
		return fmt.Errorf("%w: type %q", ErrNotRoomMessage, m.Type)
	case m.Room == "":
		return fmt.Errorf("wshub/nats: history append: %w", core.ErrEmptyRoomName)
	case !opts.Enabled():
		return fmt.Errorf("wshub/nats: history append to %q: %w", m.Room, core.ErrNoHistory)
	}
	if err := a.hist.append(ctx, bp, m, opts); err != nil {
		return fmt.Errorf("wshub/nats: history append to %q: %w", m.Room, err)
	}
	return nil
}

// append stores m in its room's stream with optimistic concurrency: it
// expects the room's subject to end at the tip it knows and gives m the
// position after it; when another appender got there first it reads the
// new tip and tries again. Every attempt carries the same message ID, so a
// retry of an attempt that was stored unbeknown to us (its answer was lost)
// is recognised by JetStream's duplicate check.
func (h *historyStore) append(ctx context.Context, bp *[]byte, m *core.AdapterMessage, opts core.History) error {
	st := h.stream(historyKeyOf(opts))
	subj := tokenSubject(st.base, m.Room)
	id := nuid.Next()
	t, known := h.tip(st, subj)
	var (
		lastErr error
		wait    time.Duration // before the next attempt
		b       = backoff.Backoff{Min: minRetryBackoff, Max: maxRetryBackoff, Equal: true}
		races   int // attempts that lost to another appender
		faults  int // attempts that failed otherwise
	)
	// retry reports whether err, a failure that may pass, leaves attempts.
	retry := func(err error) bool {
		faults++
		lastErr, wait = err, b.Next()
		return faults < maxAppendRetries
	}
	for races < maxAppendRaces {
		if races+faults > 0 {
			if err := h.pause(ctx, wait); err != nil {
				return fmt.Errorf("%w (after %w)", err, lastErr)
			}
		}
		if !h.nc.IsConnected() {
			return fmt.Errorf("%w: connection %s", ErrNotConnected, h.nc.Status())
		}
		if !h.isReady(st) {
			if err := h.ensure(ctx, st); err != nil {
				if !h.transient(ctx, err) || !retry(err) {
					return err
				}
				continue
			}
		}
		if !known {
			last, err := h.last(ctx, st, subj)
			switch {
			case errors.Is(err, errStreamGone):
				h.lost(st)
				if !retry(err) {
					return err
				}
				wait = 0
				b.Reset()
				continue
			case err != nil:
				if !h.transient(ctx, err) || !retry(err) {
					return err
				}
				continue
			case last != nil && last.msgID == id:
				// An earlier attempt of m was stored and is the room's
				// last message.
				m.Pos = last.pos
				h.setTip(st, subj, roomTip{seq: last.seq, pos: last.pos})
				h.live(m.Room, last.data)
				return nil
			}
			t, known = last.tip(), true
			h.setTip(st, subj, t)
		}

		m.Pos = t.next()
		*bp = wire.Append((*bp)[:0], m)
		ack, err := h.publish(ctx, subj, *bp, id, t.seq, m.Pos)
		switch {
		case err == nil:
			data := *bp
			if ack.Duplicate {
				// An earlier attempt was stored, at ack.Sequence, perhaps
				// with another position: take that one.
				stored, err := h.get(ctx, st.name, msgGetRequest{Seq: ack.Sequence})
				if err != nil {
					return fmt.Errorf("read back %s #%d: %w", st.name, ack.Sequence, err)
				}
				m.Pos, data = stored.pos, stored.data
			}
			h.setTip(st, subj, roomTip{seq: ack.Sequence, pos: m.Pos})
			h.live(m.Room, data)
			return nil
		case isWrongLast(err):
			// Another appender took the offset: no pause, the race is
			// won by whoever asks first.
			races++
			known = false
			lastErr, wait = err, 0
			b.Reset()
		case errors.Is(err, jetstream.ErrNoStreamResponse):
			// Nothing listens on the subject: the stream was deleted (or
			// lost with a broker that kept no store), or it is electing a
			// leader. Reading the tip tells which.
			known = false
			if !retry(err) {
				return err
			}
		case h.transient(ctx, err):
			// The tip and the message ID stay: if this attempt was stored
			// after all, its retry is answered as a duplicate.
			if !retry(err) {
				return err
			}
		default:
			return err
		}
	}
	return fmt.Errorf("%w: %d times: %w", ErrHistoryConflict, maxAppendRaces, lastErr)
}

// live publishes a stored message, data, on the subject of room that
// Publish uses, for the nodes with members in the room. It does not wait:
// nats.go buffers the message. A failure is reported (Op "publish"), not
// returned: the message is stored, and the nodes that miss it find it in
// the history when the next message of the room shows them the gap.
func (h *historyStore) live(room string, data []byte) {
	subj := h.subj.roomSubject(room)
	if err := h.nc.Publish(subj, data); err != nil {
		h.failures.Fail("publish", fmt.Errorf("stored history message of room %q to %q: %w", room, subj, err))
	}
}

// publish sends one attempt to JetStream and waits for its answer.
func (h *historyStore) publish(ctx context.Context, subj string, data []byte, id string, expect uint64, pos core.Position) (*jetstream.PubAck, error) {
	msg := &natsgo.Msg{
		Subject: subj,
		Data:    data,
		Header: natsgo.Header{
			// Set explicitly, 0 included: JetStream (2.9 on) then refuses
			// the message unless the subject has no message at all.
			hdrExpectedLast: []string{strconv.FormatUint(expect, 10)},
			hdrMsgID:        []string{id},
			hdrEpoch:        []string{pos.Epoch},
			hdrOffset:       []string{strconv.FormatUint(pos.Offset, 10)},
		},
	}
	rctx, cancel := context.WithTimeout(ctx, historyRequestTimeout)
	defer cancel()
	// No retries inside nats.go: append decides what a failure means.
	return h.js.PublishMsg(rctx, msg, jetstream.WithRetryAttempts(0))
}

// last returns the last message of subj, nil when the subject has none.
// Errors: errStreamGone when the stream does not exist.
func (h *historyStore) last(ctx context.Context, st *historyStream, subj string) (*storedMsg, error) {
	last, err := h.get(ctx, st.name, msgGetRequest{LastFor: subj})
	if errors.Is(err, errNoMessage) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if !last.posOK {
		h.failures.Fail("decode", fmt.Errorf("history %s #%d on %q has no position: the room starts a new epoch", st.name, last.seq, subj))
	}
	return last, nil
}

// transient reports whether err may pass on its own: a request that timed
// out while ctx goes on, JetStream answering that it is unavailable for now
// (no leader yet), or another node creating the stream at the same time.
func (h *historyStore) transient(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, natsgo.ErrTimeout):
		return true
	case errors.As(err, &apiErr):
		switch apiErr.ErrorCode {
		case jetstream.JSErrCodeJetStreamNotEnabled, jetstream.JSErrCodeJetStreamNotEnabledForAccount:
			return false
		case jetstream.JSErrCodeStreamNameInUse:
			return true
		}
		return apiErr.Code == 503
	}
	return false
}

// pause waits d, or less when ctx ends or the adapter closes.
func (h *historyStore) pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-h.stop:
		return core.ErrAdapterClosed
	}
}

// isWrongLast reports whether err is JetStream refusing a message because
// the subject's last sequence was not the expected one (10071; newer
// servers answer 10164 on replicated streams).
func isWrongLast(err error) bool {
	c := apiCode(err)
	return c == jetstream.JSErrCodeStreamWrongLastSequence || c == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// noJetStream adds jetstream.ErrJetStreamNotEnabled to err when nothing
// answered a JetStream API request: the broker runs without JetStream.
func noJetStream(err error) error {
	if errors.Is(err, natsgo.ErrNoResponders) {
		return fmt.Errorf("%w: %w", jetstream.ErrJetStreamNotEnabled, err)
	}
	return err
}

func apiCode(err error) jetstream.ErrorCode {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode
	}
	return 0
}
