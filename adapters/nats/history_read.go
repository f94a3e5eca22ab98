package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/wire"
)

const (
	// maxGetRead is the most messages a read fetches one request at a time;
	// a longer run is read through a short-lived consumer, which costs
	// three requests to set up and tear down but streams the messages.
	maxGetRead = 16
	// pullBatch is how many messages one pull request of such a consumer
	// asks for.
	pullBatch = 256
	// readerIdle is how long JetStream keeps a read's consumer that the
	// reader did not delete (its ctx ended first).
	readerIdle = 10 * time.Second
)

var (
	errNoMessage  = errors.New("no message")
	errStreamGone = errors.New("stream not found")
	errNoConsumer = errors.New("no read consumer")
)

// storedMsg is a message of a history stream with what its headers say.
type storedMsg struct {
	seq   uint64 // 0 when read through a consumer
	data  []byte
	msgID string
	pos   core.Position
	posOK bool // the headers hold a valid position
}

func newStoredMsg(seq uint64, hdr natsgo.Header, data []byte) *storedMsg {
	s := &storedMsg{seq: seq, data: data, msgID: hdr.Get(hdrMsgID)}
	epoch := hdr.Get(hdrEpoch)
	off, err := strconv.ParseUint(hdr.Get(hdrOffset), 10, 64)
	if err == nil && off > 0 && epoch != "" && len(epoch) <= wire.MaxEpochLen {
		s.pos, s.posOK = core.Position{Epoch: epoch, Offset: off}, true
	}
	return s
}

// tip returns the room tip s makes: none for a nil s, no position for a
// message without one.
func (s *storedMsg) tip() roomTip {
	if s == nil {
		return roomTip{}
	}
	if !s.posOK {
		return roomTip{seq: s.seq}
	}
	return roomTip{seq: s.seq, pos: s.pos}
}

// msgGetRequest is the body of JetStream's STREAM.MSG.GET: the message at
// Seq, the last of LastFor, or the first of NextFor at Seq or after.
type msgGetRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	LastFor string `json:"last_by_subj,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
}

type msgGetResponse struct {
	Error   *jetstream.APIError `json:"error,omitempty"`
	Message *struct {
		Seq    uint64 `json:"seq"`
		Header []byte `json:"hdrs,omitempty"`
		Data   []byte `json:"data,omitempty"`
	} `json:"message,omitempty"`
}

// get asks the stream's leader for one message. Direct gets (AllowDirect)
// may be answered by a replica that lags behind, which would hide messages
// already acknowledged; the leader's answer includes them. Errors:
// errNoMessage, errStreamGone, the request's.
func (h *historyStore) get(ctx context.Context, stream string, req msgGetRequest) (*storedMsg, error) {
	seq, hdr, data, err := leaderGet(ctx, h.nc, stream, req)
	if err != nil {
		return nil, err
	}
	return newStoredMsg(seq, hdr, data), nil
}

// leaderGet asks the leader of stream for one message (see
// historyStore.get) and returns its sequence, headers and data, bounded by
// ctx and historyRequestTimeout. Errors: errNoMessage, errStreamGone, the
// request's.
func leaderGet(ctx context.Context, nc *natsgo.Conn, stream string, req msgGetRequest) (uint64, natsgo.Header, []byte, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return 0, nil, nil, err
	}
	rctx, cancel := context.WithTimeout(ctx, historyRequestTimeout)
	defer cancel()
	resp, err := nc.RequestWithContext(rctx, jsAPIPrefix+"STREAM.MSG.GET."+stream, body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("get from %s: %w", stream, noJetStream(err))
	}
	var r msgGetResponse
	if err := json.Unmarshal(resp.Data, &r); err != nil {
		return 0, nil, nil, fmt.Errorf("get from %s: %w", stream, err)
	}
	switch {
	case r.Error != nil && r.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return 0, nil, nil, errNoMessage
	case r.Error != nil && r.Error.ErrorCode == jetstream.JSErrCodeStreamNotFound:
		return 0, nil, nil, fmt.Errorf("%s: %w", stream, errStreamGone)
	case r.Error != nil:
		return 0, nil, nil, fmt.Errorf("get from %s: %w", stream, r.Error)
	case r.Message == nil:
		return 0, nil, nil, fmt.Errorf("get from %s: %w", stream, jetstream.ErrInvalidJetStreamResponse)
	}
	var hdr natsgo.Header
	if len(r.Message.Header) > 0 {
		if hdr, err = natsgo.DecodeHeadersMsg(r.Message.Header); err != nil {
			return 0, nil, nil, fmt.Errorf("get from %s #%d: %w", stream, r.Message.Seq, err)
		}
	}
	return r.Message.Seq, hdr, r.Message.Data, nil
}

// ReadHistory returns the stored messages of room selected by q, with
// their positions, and the state of the room's stream (see
// core.HistoryAdapter): an empty page when the room has no message (or its
// stream does not exist yet). It reads from the stream's leader, so it
// sees every message acknowledged before it started; messages of an older
// epoch that the stream still holds are left out. Its requests go out on
// the connection behind any SUB that SetRoomInterest wrote before the
// call, so the server has the room's subscription before the read, and
// the messages stored after it (published once stored) reach this node
// (core.HistoryAdapter). A stored message that does not decode is skipped
// and reported (Op "decode"). Errors:
// core.ErrAdapterClosed, core.ErrEmptyRoomName, core.ErrNoHistory when opts
// keep none, ErrNotConnected, ctx's error or JetStream's; every request is
// bounded by ctx and by 2 s. It costs two requests, plus a few to find the
// first message asked for in a long history, plus one per message up to 16
// messages or a consumer beyond.
func (a *Adapter) ReadHistory(ctx context.Context, room string, opts core.History, q core.HistoryQuery) (core.HistoryPage, error) {
	switch {
	case a.closed.Load():
		return core.HistoryPage{}, core.ErrAdapterClosed
	case room == "":
		return core.HistoryPage{}, fmt.Errorf("wshub/nats: read history: %w", core.ErrEmptyRoomName)
	case !opts.Enabled():
		return core.HistoryPage{}, fmt.Errorf("wshub/nats: read history of %q: %w", room, core.ErrNoHistory)
	case !a.nc.IsConnected():
		return core.HistoryPage{}, fmt.Errorf("wshub/nats: read history of %q: %w: connection %s", room, ErrNotConnected, a.nc.Status())
	}
	if err := ctx.Err(); err != nil {
		return core.HistoryPage{}, err
	}
	page, err := a.hist.read(ctx, room, opts, q)
	if err != nil {
		return core.HistoryPage{}, fmt.Errorf("wshub/nats: read history of %q: %w", room, err)
	}
	return page, nil
}

// historyRead is one ReadHistory call.
type historyRead struct {
	h      *historyStore
	room   string
	stream string
	subj   string
	epoch  string
}

func (h *historyStore) read(ctx context.Context, room string, opts core.History, q core.HistoryQuery) (core.HistoryPage, error) {
	k := historyKeyOf(opts)
	r := &historyRead{h: h, room: room, stream: h.subj.historyStream(k), subj: tokenSubject(h.subj.historyBase(k), room)}
	last, err := h.get(ctx, r.stream, msgGetRequest{LastFor: r.subj})
	switch {
	case errors.Is(err, errNoMessage), errors.Is(err, errStreamGone):
		return core.HistoryPage{}, nil
	case err != nil:
		return core.HistoryPage{}, err
	case !last.posOK:
		// Not a message of ours: the next append starts a new epoch.
		h.failures.Fail("decode", fmt.Errorf("history %s #%d on %q has no position", r.stream, last.seq, r.subj))
		return core.HistoryPage{}, nil
	}
	r.epoch = last.pos.Epoch
	page := core.HistoryPage{Epoch: r.epoch, Top: last.pos.Offset}
	first, err := r.first(ctx, last)
	if err != nil {
		return core.HistoryPage{}, err
	}
	page.First = first.pos.Offset

	if q.After >= page.Top {
		return page, nil
	}
	from := max(q.After+1, page.First)
	count := page.Top - from + 1
	if q.Limit > 0 && count > uint64(q.Limit) {
		count = uint64(q.Limit)
	}
	if q.Reverse {
		from = page.Top - count + 1
	}
	start, err := r.seek(ctx, first, last, from)
	if err != nil {
		return core.HistoryPage{}, err
	}
	stored, err := r.run(ctx, start, from+count-1)
	if err != nil {
		return core.HistoryPage{}, err
	}
	page.Messages = make([]core.AdapterMessage, 0, len(stored))
	for _, s := range stored {
		m, err := wire.Decode(s.data)
		if err == nil && m.Room != r.room {
			err = fmt.Errorf("message of room %q", m.Room)
		}
		if err != nil {
			h.failures.Fail(wire.ErrorOp(err), fmt.Errorf("history %s offset %d on %q: %w", r.stream, s.pos.Offset, r.subj, err))
			continue
		}
		m.Pos = s.pos
		page.Messages = append(page.Messages, m)
	}
	if q.Reverse {
		slices.Reverse(page.Messages)
	}
	return page, nil
}

// ofEpoch reports whether s is a positioned message of the read's epoch.
func (r *historyRead) ofEpoch(s *storedMsg) bool { return s.posOK && s.pos.Epoch == r.epoch }

// first returns the oldest message of the subject in the read's epoch. It
// is the subject's oldest unless the stream still holds an older epoch.
func (r *historyRead) first(ctx context.Context, last *storedMsg) (*storedMsg, error) {
	var seq uint64 = 1
	for {
		f, err := r.h.get(ctx, r.stream, msgGetRequest{Seq: seq, NextFor: r.subj})
		switch {
		case errors.Is(err, errNoMessage), errors.Is(err, errStreamGone):
			// Removed since (expired, or the stream was deleted): the page
			// holds the last message read.
			return last, nil
		case err != nil:
			return nil, err
		case f.seq >= last.seq:
			return last, nil
		case r.ofEpoch(f):
			return f, nil
		}
		seq = f.seq + 1
	}
}

// seek returns the message of the read's epoch with offset want, or the
// next one after it if that was removed since. lo and hi are messages of
// the epoch with lo's offset <= want <= hi's. Offsets grow with stream
// sequences, so it searches the sequences between them, one get per
// probe, alternating an interpolated guess (offsets of a busy room are
// spread evenly over the stream) with bisection (for a worst case of
// O(log n)).
func (r *historyRead) seek(ctx context.Context, lo, hi *storedMsg, want uint64) (*storedMsg, error) {
	if lo.pos.Offset >= want {
		return lo, nil
	}
	if hi.pos.Offset <= want {
		return hi, nil
	}
	// The answer is hi or a message at a sequence in [l, u]; none of the
	// subject's messages lies in (u, hi.seq).
	l, u := lo.seq+1, hi.seq-1
	for probe := 0; l <= u; probe++ {
		p := l + (u-l)/2
		if probe%2 == 0 {
			frac := float64(want-lo.pos.Offset) / float64(hi.pos.Offset-lo.pos.Offset)
			p = lo.seq + uint64(frac*float64(hi.seq-lo.seq))
			p = min(max(p, l), u)
		}
		m, err := r.h.get(ctx, r.stream, msgGetRequest{Seq: p, NextFor: r.subj})
		switch {
		case errors.Is(err, errNoMessage), errors.Is(err, errStreamGone):
			return hi, nil // removed since; the run finds what is left
		case err != nil:
			return nil, err
		case !r.ofEpoch(m) || m.seq > hi.seq:
			// Not ordered by offset (another epoch, or hi was removed):
			// read on from lo instead.
			return lo, nil
		case m.pos.Offset == want:
			return m, nil
		case m.pos.Offset < want:
			lo, l = m, m.seq+1
		default:
			hi, u = m, p-1
		}
	}
	return hi, nil
}

// run returns start and the messages of the epoch that follow it on the
// subject, up to offset upTo.
func (r *historyRead) run(ctx context.Context, start *storedMsg, upTo uint64) ([]*storedMsg, error) {
	if start.pos.Offset > upTo {
		return nil, nil
	}
	out := []*storedMsg{start}
	n := upTo - start.pos.Offset // messages after start
	if n == 0 {
		return out, nil
	}
	take := func(s *storedMsg) bool {
		if !r.ofEpoch(s) || s.pos.Offset <= out[len(out)-1].pos.Offset {
			return true // another epoch's: skip
		}
		if s.pos.Offset > upTo {
			return false
		}
		out = append(out, s)
		return s.pos.Offset < upTo
	}
	if n > maxGetRead {
		err := r.consume(ctx, start.seq+1, int(n), take)
		if !errors.Is(err, errNoConsumer) {
			if err != nil {
				return nil, err
			}
			return out, nil
		}
		// Creating a consumer takes the cluster's metadata leader, which
		// may be electing while the stream itself serves: read one by one.
	}
	for seq := start.seq + 1; ; {
		s, err := r.h.get(ctx, r.stream, msgGetRequest{Seq: seq, NextFor: r.subj})
		switch {
		case errors.Is(err, errNoMessage), errors.Is(err, errStreamGone):
			return out, nil
		case err != nil:
			return nil, err
		case !take(s):
			return out, nil
		}
		seq = s.seq + 1
	}
}

// consume reads up to n messages of the subject from stream sequence from
// through an ephemeral pull consumer, handing each to take until it
// returns false, and deletes the consumer. It returns errNoConsumer, having
// taken nothing, when the consumer could not be created while ctx goes on.
func (r *historyRead) consume(ctx context.Context, from uint64, n int, take func(*storedMsg) bool) error {
	cctx, cancel := context.WithTimeout(ctx, historyRequestTimeout)
	cons, err := r.h.js.CreateConsumer(cctx, r.stream, jetstream.ConsumerConfig{
		FilterSubject:     r.subj,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       from,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		Replicas:          1,
		InactiveThreshold: readerIdle,
	})
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("%w on %s: %w", errNoConsumer, r.stream, err)
	}
	name := cons.CachedInfo().Name
	// Deleted without waiting for the answer (it goes through the cluster's
	// metadata leader); should the request be lost, JetStream removes the
	// consumer after readerIdle.
	defer func() { _ = r.h.nc.Publish(jsAPIPrefix+"CONSUMER.DELETE."+r.stream+"."+name, nil) }()

	inbox := r.h.nc.NewInbox()
	sub, err := r.h.nc.SubscribeSync(inbox)
	if err != nil {
		return fmt.Errorf("read consumer on %s: %w", r.stream, err)
	}
	defer func() { _ = sub.Unsubscribe() }() // fails only if already gone
	next := jsAPIPrefix + "CONSUMER.MSG.NEXT." + r.stream + "." + name
	for n > 0 {
		batch := min(n, pullBatch)
		req := []byte(`{"batch":` + strconv.Itoa(batch) + `,"no_wait":true}`)
		if err := r.h.nc.PublishRequest(next, inbox, req); err != nil {
			return fmt.Errorf("pull from %s: %w", r.stream, err)
		}
		more, err := r.pull(ctx, sub, batch, take)
		if err != nil || !more {
			return err
		}
		n -= batch
	}
	return nil
}

// pull receives the answer to one pull request of batch messages and
// reports whether more may follow.
func (r *historyRead) pull(ctx context.Context, sub *natsgo.Subscription, batch int, take func(*storedMsg) bool) (bool, error) {
	pctx, cancel := context.WithTimeout(ctx, historyRequestTimeout)
	defer cancel()
	for range batch {
		m, err := sub.NextMsgWithContext(pctx)
		if err != nil {
			return false, fmt.Errorf("pull from %s: %w", r.stream, err)
		}
		if status := m.Header.Get("Status"); status != "" && len(m.Data) == 0 {
			// 404 (no more messages) or 408 (request expired) end the
			// batch; anything else is a failure.
			if status == "404" || status == "408" {
				return false, nil
			}
			return false, fmt.Errorf("pull from %s: status %s %s", r.stream, status, m.Header.Get("Description"))
		}
		if !take(newStoredMsg(0, m.Header, m.Data)) {
			return false, nil
		}
	}
	return true, nil
}
