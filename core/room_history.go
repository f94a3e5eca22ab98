package core

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"
)

// historyGapWait is how long a node waits for a missing offset of a
// history room to arrive (another node's message may simply be a little
// late) before it reads the missing range from the store.
const historyGapWait = 100 * time.Millisecond

// historyReadTimeout bounds one read of the store: a gap fill, or a
// recovery's replay.
const historyReadTimeout = 5 * time.Second

// minHistoryBuffer is the least a room buffers out of order, and a
// recovering client's live messages: max(Size, minHistoryBuffer).
const minHistoryBuffer = 256

// roomHistory delivers the messages of a history room to the local members
// in offset order, exactly once: messages that arrive ahead of a gap wait
// in pending until the gap is filled from the store (once for the node)
// or given up as lost. It also holds the members that are recovering, whose
// live messages it buffers until their replay is done (see recovery.go).
//
// Lock order: roomHistory.mu → Room.mu → Client.state; nothing takes mu
// while holding Hub.roomsMu or Room.mu.
type roomHistory struct {
	h    *Hub
	r    *Room
	opts History

	mu       sync.Mutex
	started  bool   // epoch and last came from the store when the room was created
	epoch    string // of the messages delivered here; "" before the first
	last     uint64 // offset of the newest message delivered here
	pending  map[uint64]AdapterMessage
	catchups map[*Client]*catchup
	// ahead holds the members whose replay went past last (the store had
	// messages this node had not delivered yet): each already has the
	// room's messages up to its position, which deliverLocked skips.
	ahead   map[*Client]Position
	reads   map[uint64]*readGroup // recovery reads in flight, by After
	joins   uint64                // recovering members registered so far
	filling bool                  // a gap fill is scheduled or running
	// left are the epochs this node followed before the current one (the
	// newest few): a late message of one is stale, not a new stream.
	left []string
	// outbox holds deliveries decided under mu, in order, for flush to
	// queue outside mu (the drop hooks of a full queue run there and may
	// call back into the hub); flushing is set while a goroutine drains
	// it, so deliveries keep their order.
	outbox   []delivery
	flushing bool
}

// maxLeftEpochs bounds roomHistory.left.
const maxLeftEpochs = 4

// delivery is a frame for some clients, decided under roomHistory.mu.
type delivery struct {
	f  *frame
	to *[]*Client // from clientBufPool; nil with one
	c  *Client    // the only recipient when to is nil
	// force queues past the client's bounds: a recovery answer, which must
	// not be the message its own replay's queue drops.
	force bool
}

// roomStartTimeout bounds the store read of a join that creates a history
// room on this node (see roomStart).
const roomStartTimeout = 2 * time.Second

func newRoomHistory(h *Hub, r *Room, start *HistoryPage) *roomHistory {
	rh := &roomHistory{h: h, r: r, opts: r.opts.History}
	if start != nil {
		rh.started = true
		rh.epoch, rh.last = start.Epoch, start.Top
	}
	return rh
}

// roomStart reads where the stream of name stands, for a join that will
// create the history room on this node: the node then delivers every
// message stored after that, whatever order they arrive in, and nothing
// the members joined too late for. It returns nil when the room exists
// here, keeps no history, or the store cannot be read in time; the room
// then starts at the first message it receives.
//
// It declares the node's interest in the room first, and the store reads
// only once the subscription is in place (HistoryAdapter), so what is
// stored after the read comes on the bus too: an adapter that subscribes in
// the background (Redis) would otherwise let another node's messages,
// published after the join returned, reach this node from the store alone,
// and a room that keeps few may have dropped them before the node sees the
// gap. (The declaration comes ahead of the room's, which repeats it: a
// join always goes on to create the room, or find it, and a room it
// creates and cannot join is deleted, which withdraws the interest.)
func (h *Hub) roomStart(name string) *HistoryPage {
	if h.roomOpts == nil || h.hist == nil || h.room(name) != nil {
		return nil
	}
	o := h.resolveRoomOptions(name)
	if !o.History.Enabled() {
		return nil
	}
	if ri, ok := h.adapter.(RoomInterestAdapter); ok {
		h.roomsMu.Lock() // calls for one room are made holding the index
		exists := h.rooms[name] != nil
		if !exists {
			ri.SetRoomInterest(name, true)
		}
		h.roomsMu.Unlock()
		if exists {
			return nil
		}
	}
	ctx, cancel := context.WithTimeout(h.histCtx, roomStartTimeout)
	defer cancel()
	page, err := h.hist.ReadHistory(ctx, name, o.History, HistoryQuery{Limit: 1, Reverse: true})
	if err != nil {
		h.adapterError(&AdapterError{Op: "history", Err: err})
		return nil
	}
	page.Messages = nil
	return &page
}

// bufferMax bounds pending and each recovering client's buffer.
func (rh *roomHistory) bufferMax() int { return max(rh.opts.Size, minHistoryBuffer) }

// offer delivers m, a message of the room with its position, in order.
func (rh *roomHistory) offer(m AdapterMessage) {
	defer rh.flush()
	rh.mu.Lock()
	defer rh.mu.Unlock()
	p := m.Pos
	if p.Epoch != rh.epoch && slices.Contains(rh.left, p.Epoch) {
		rh.h.countSeq(seqCount{duplicate: 1}) // a late message of a stream left behind
		return
	}
	switch {
	case rh.epoch == "" && rh.started:
		// The store kept nothing when the room was created here: its
		// stream starts now.
		rh.epoch, rh.last = p.Epoch, 0
	case rh.epoch == "":
		// The first message since the room exists here, whose start is
		// unknown: members joined after what came before, so nothing
		// before it is owed.
		rh.epoch, rh.last = p.Epoch, p.Offset-1
	case p.Epoch != rh.epoch:
		// The store started a new stream (it lost the old one): what the
		// old stream had after last is gone; the new one counts from 1.
		rh.left = append(rh.left, rh.epoch)
		if len(rh.left) > maxLeftEpochs {
			rh.left = rh.left[1:]
		}
		rh.epoch, rh.last = p.Epoch, 0
		clear(rh.pending)
	}
	switch {
	case p.Offset <= rh.last:
		rh.h.countSeq(seqCount{duplicate: 1})
		return
	case p.Offset > rh.last+1:
		if rh.pending == nil {
			rh.pending = make(map[uint64]AdapterMessage)
		}
		rh.pending[p.Offset] = m
		if len(rh.pending) > rh.bufferMax() {
			rh.skipGapLocked() // bounded: give the gap up now
			return
		}
		rh.scheduleFillLocked()
		return
	}
	rh.deliverLocked(m)
	rh.drainLocked()
}

// drainLocked delivers the pending messages that follow last.
func (rh *roomHistory) drainLocked() {
	for len(rh.pending) > 0 {
		m, ok := rh.pending[rh.last+1]
		if !ok {
			rh.scheduleFillLocked()
			return
		}
		delete(rh.pending, rh.last+1)
		rh.deliverLocked(m)
	}
}

// skipGapLocked counts the offsets missing before the lowest pending one as
// lost and delivers from there.
func (rh *roomHistory) skipGapLocked() {
	if len(rh.pending) == 0 {
		return
	}
	lowest := slices.Min(slices.Collect(maps.Keys(rh.pending)))
	if lowest > rh.last+1 {
		rh.h.countSeq(seqCount{lost: lowest - rh.last - 1})
		rh.last = lowest - 1
	}
	rh.drainLocked()
}

// deliverLocked decides who receives m (buffering it for the members that
// are recovering), puts that in the outbox and advances last. The caller
// flushes after unlocking.
func (rh *roomHistory) deliverLocked(m AdapterMessage) {
	rh.last = m.Pos.Offset
	f := rh.h.historyFrame(rh.r.name, &m)
	if f == nil {
		return
	}
	bp := getClientBuf()
	rh.r.mu.RLock()
	members := append((*bp)[:0], rh.r.members...)
	rh.r.mu.RUnlock()
	to := members[:0]
	for _, c := range members {
		if excluded(c, nil, m.ExceptClientIDs) {
			continue
		}
		if cu := rh.catchups[c]; cu != nil {
			cu.add(histEntry{pos: m.Pos, f: f}, rh.bufferMax())
			continue
		}
		if w, ok := rh.ahead[c]; ok {
			if w.Epoch == m.Pos.Epoch && m.Pos.Offset <= w.Offset {
				continue // replayed to it already
			}
			delete(rh.ahead, c)
		}
		to = append(to, c)
	}
	clear(members[len(to):])
	*bp = to
	rh.outbox = append(rh.outbox, delivery{f: f, to: bp})
}

// flush queues the outbox's deliveries, in order, outside mu. One
// goroutine drains at a time; others leave their deliveries to it.
func (rh *roomHistory) flush() {
	rh.mu.Lock()
	if rh.flushing || len(rh.outbox) == 0 {
		rh.mu.Unlock()
		return
	}
	rh.flushing = true
	var spare []delivery
	for len(rh.outbox) > 0 {
		batch := rh.outbox
		rh.outbox = spare[:0]
		rh.mu.Unlock()
		start := time.Now()
		for i := range batch {
			d := &batch[i]
			switch {
			case d.to != nil:
				for _, c := range *d.to {
					_ = c.enqueue(d.f)
				}
				putClientBuf(d.to)
			case d.force:
				_ = d.c.enqueueOver(d.f)
			default:
				_ = d.c.enqueue(d.f)
			}
			batch[i] = delivery{}
		}
		rh.h.metrics.RecordBroadcastDuration(time.Since(start))
		spare = batch
		rh.mu.Lock()
	}
	rh.flushing = false
	rh.mu.Unlock()
}

// scheduleFillLocked arranges for the gap before the lowest pending message
// to be read from the store after historyGapWait, unless it is already.
func (rh *roomHistory) scheduleFillLocked() {
	if rh.filling || len(rh.pending) == 0 || !rh.h.histGo() {
		return
	}
	rh.filling = true
	time.AfterFunc(historyGapWait, rh.fill)
}

// fill reads the gap from the store and delivers it, or counts what the
// store no longer has as lost. It runs in a timer's goroutine, counted in
// Hub.histWG.
func (rh *roomHistory) fill() {
	defer rh.h.histWG.Done()
	rh.mu.Lock()
	if len(rh.pending) == 0 {
		rh.filling = false
		rh.mu.Unlock()
		return
	}
	after, epoch := rh.last, rh.epoch
	upto := slices.Min(slices.Collect(maps.Keys(rh.pending))) - 1
	rh.mu.Unlock()

	var page HistoryPage
	err := context.Canceled
	if upto > after {
		ctx, cancel := context.WithTimeout(rh.h.histCtx, historyReadTimeout)
		page, err = rh.h.hist.ReadHistory(ctx, rh.r.name, rh.opts, HistoryQuery{After: after, Limit: int(min(upto-after, 1<<20))})
		cancel()
		if err != nil {
			rh.h.adapterError(&AdapterError{Op: "history", Err: err})
		}
	}

	defer rh.flush()
	rh.mu.Lock()
	defer rh.mu.Unlock()
	rh.filling = false
	if rh.epoch != epoch {
		// A new stream meanwhile: its gap, which could not schedule a fill
		// while this one ran, gets its own now.
		rh.drainLocked()
		return
	}
	if err == nil && page.Epoch == epoch {
		for _, m := range page.Messages {
			if m.Pos.Offset <= rh.last || m.Pos.Offset > upto {
				continue // delivered meanwhile, or past the gap
			}
			if m.Pos.Offset > rh.last+1 {
				// The store no longer keeps what comes before (trimmed to
				// Size, expired, or an entry it skipped): lost, but what it
				// keeps of the gap is not.
				rh.h.countSeq(seqCount{lost: m.Pos.Offset - rh.last - 1})
			}
			rh.deliverLocked(m)
		}
	}
	if rh.h.histStopped() {
		return
	}
	// What the store did not give of the gap read is lost; a later gap
	// (opened during the read) gets a fill of its own.
	if rh.last < upto {
		rh.h.countSeq(seqCount{lost: upto - rh.last})
		rh.last = upto
	}
	rh.drainLocked()
}

// historyFrame frames m for the room's clients with the hub's framer, or
// returns nil (counted) when the framer panics.
func (h *Hub) historyFrame(room string, m *AdapterMessage) (f *frame) {
	defer func() {
		if p := recover(); p != nil {
			h.panicked("HistoryFramer", p)
			f = nil
		}
	}()
	typ, data := h.framer.FrameMessage(room, m.Pos, MessageType(m.MsgType), m.Data)
	if err := h.checkText(typ, data); err != nil {
		return nil // counted by checkText
	}
	return newFrame(typ, data)
}

// histGo counts a history goroutine (a gap fill, a recovery) in histWG,
// unless the hub is stopping; it reports whether the caller may start it.
func (h *Hub) histGo() bool {
	h.histLife.Lock()
	defer h.histLife.Unlock()
	if h.histDone {
		return false
	}
	h.histWG.Add(1)
	return true
}

func (h *Hub) histStopped() bool {
	h.histLife.Lock()
	defer h.histLife.Unlock()
	return h.histDone
}

// stopHistory cancels the store reads in flight and waits for the history
// goroutines.
func (h *Hub) stopHistory() {
	h.histLife.Lock()
	h.histDone = true
	h.histLife.Unlock()
	h.histCancel()
	h.histWG.Wait()
}

// publishHistory stores and delivers a message of a history room: at once
// with the hub's own memory store, through the publisher (and the
// adapter's store) otherwise. It never blocks on the broker.
func (h *Hub) publishHistory(ctx context.Context, room string, typ MessageType, data []byte, except []*Client, opts History) {
	m := AdapterMessage{NodeID: h.nodeID, Type: AdapterRoom, Room: room, MsgType: int(typ), Data: data}
	if len(except) > 0 {
		m.Type = AdapterRoomExcept
		m.ExceptClientIDs = clientIDs(except)
	}
	if h.histMem != nil {
		h.histMem.Append(&m, opts)
		h.deliverHistory(m)
		return
	}
	h.tracePublish(ctx, &m)
	h.publishStored(m, opts)
}

// deliverHistory hands a stored message to its room's ordered delivery,
// when the room has members here.
func (h *Hub) deliverHistory(m AdapterMessage) {
	if r := h.room(m.Room); r != nil && r.hist != nil {
		r.hist.offer(m)
	}
}
