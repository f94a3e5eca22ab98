package core

import (
	"context"
	"sync/atomic"
	"time"
)

// recoveryReplayTimeout bounds how long a recovering client's replay may
// wait for room in its send queue before the recovery is given up as
// overflowed.
const recoveryReplayTimeout = 10 * time.Second

// histEntry is a framed message of a history room.
type histEntry struct {
	pos Position
	f   *frame
}

// catchup is a member of a history room that is recovering: the live
// messages delivered meanwhile wait here, in offset order, until its replay
// is sent. Guarded by roomHistory.mu.
type catchup struct {
	joined   uint64 // roomHistory.joins when it registered
	buf      []histEntry
	overflow bool // more than the bound arrived: the recovery is lost
	// cancelled is set, under roomHistory.mu, when the client left the
	// room: its recovery stops sending and answers nothing.
	cancelled atomic.Bool
}

func (cu *catchup) add(e histEntry, bound int) {
	if len(cu.buf) >= bound {
		cu.overflow = true
		return
	}
	cu.buf = append(cu.buf, e)
}

// sharedRead is one recovery read of the store, shared by the clients of
// the node that recover the same room from the same offset at once (a
// deploy reconnects them all together): one read, frames built once.
type sharedRead struct {
	// joins is roomHistory.joins when the read started: it serves only
	// the clients that registered before, for whom everything delivered
	// after the read started is in their buffers.
	joins   uint64
	done    chan struct{}
	page    HistoryPage
	entries []histEntry // the page's messages, framed
	except  [][]string  // each message's ExceptClientIDs
	err     error
}

// JoinRoomFrom is JoinRoom for a client that has seen the room's messages
// up to since: once it is a member, it receives the messages after since
// that the store keeps, then the live ones, each once and in order, and
// then a recovery answer (HistoryFramer.FrameRecovery); Hooks.OnRecovery
// is told the outcome. The replay runs in the background: JoinRoomFrom
// returns once the client is a member. For a room that keeps no history it
// is JoinRoom. A cursor the client presented at the upgrade for the room
// is dropped: since replaces it.
func (h *Hub) JoinRoomFrom(client *Client, name string, since Position) error {
	return h.join(client, name, since, true)
}

// putCursor gives c back its cursor for room, after a join that failed.
func (c *Client) putCursor(room string, p Position) {
	c.state.Lock()
	defer c.state.Unlock()
	if c.cursors == nil {
		c.cursors = make(map[string]Position)
	}
	c.cursors[room] = p
}

// takeCursor removes and returns the client's recovery cursor for room.
func (c *Client) takeCursor(room string) (Position, bool) {
	c.state.Lock()
	defer c.state.Unlock()
	p, ok := c.cursors[room]
	if ok {
		delete(c.cursors, room)
	}
	return p, ok
}

// joinRecovering adds c to r, a history room, and registers it as
// recovering in the same step, so that no live message reaches it before
// its replay. It reports retry as joinRoom does.
func (h *Hub) joinRecovering(r *Room, c *Client) (cu *catchup, retry bool, err error) {
	rh := r.hist
	rh.mu.Lock()
	defer rh.mu.Unlock()
	retry, err = h.joinRoom(r, c)
	if retry || err != nil {
		return nil, retry, err
	}
	rh.joins++
	cu = &catchup{joined: rh.joins}
	if rh.catchups == nil {
		rh.catchups = make(map[*Client]*catchup)
	}
	rh.catchups[c] = cu
	return cu, false, nil
}

// startRecovery runs c's recovery of r in a goroutine counted in histWG;
// when the hub is stopping it only releases c's buffer.
func (h *Hub) startRecovery(r *Room, c *Client, since Position, cu *catchup) {
	if !h.histGo() {
		rh := r.hist
		rh.mu.Lock()
		delete(rh.catchups, c)
		rh.mu.Unlock()
		return
	}
	go r.hist.recover(c, since, cu)
}

// recover sends c what it missed of the room since its cursor, then what
// arrived meanwhile, then the answer.
func (rh *roomHistory) recover(c *Client, since Position, cu *catchup) {
	h := rh.h
	defer h.histWG.Done()
	rec := Recovery{Since: since}
	sr := rh.read(since.Offset, cu.joined)
	switch p := sr.page; {
	case sr.err != nil:
		rec.Reason = RecoveryUnavailable
	case p.Epoch != since.Epoch:
		rec.Reason = RecoveryEpoch
	case since.Offset > p.Top:
		rec.Reason = RecoveryAhead
	case since.Offset < p.Top && (p.First == 0 || p.First > since.Offset+1):
		rec.Reason = RecoveryExpired
	default:
		rec.Recovered = true
	}
	ctx, cancel := context.WithTimeout(h.histCtx, recoveryReplayTimeout)
	defer cancel()
	sent := since.Offset // the client has everything up to here
	if rec.Recovered {
		sent, rec = rh.replay(ctx, c, cu, sr, since, rec)
	}
	// Then what was delivered live meanwhile, until nothing is left; the
	// answer goes last, through the outbox, so nothing live slips before
	// it.
	for {
		rh.mu.Lock()
		if cu.cancelled.Load() {
			rh.mu.Unlock()
			return // left the room: its leave removed the catchup
		}
		buf, overflow := cu.buf, cu.overflow
		cu.buf = nil
		if overflow && rec.Recovered {
			rec.Recovered, rec.Reason = false, RecoveryOverflow
		}
		if len(buf) == 0 || overflow {
			if rh.catchups[c] == cu {
				delete(rh.catchups, c)
			}
			if sent > since.Offset && (rh.epoch != since.Epoch || sent > rh.last) {
				// The store gave messages this node has yet to deliver:
				// they will come live, and must not come twice.
				if rh.ahead == nil {
					rh.ahead = make(map[*Client]Position)
				}
				rh.ahead[c] = Position{Epoch: since.Epoch, Offset: sent}
			}
			rh.answerLocked(c, rec)
			rh.mu.Unlock()
			rh.flush()
			break
		}
		rh.mu.Unlock()
		for _, e := range buf {
			if e.pos.Epoch == since.Epoch && e.pos.Offset <= sent {
				continue // replayed already
			}
			if cu.cancelled.Load() {
				break
			}
			if err := c.enqueueWait(ctx, e.f); err != nil && rec.Recovered {
				rec.Recovered, rec.Reason = false, RecoveryOverflow
			}
			if e.pos.Epoch == since.Epoch {
				sent = e.pos.Offset
			}
		}
	}
	if h.hooks.OnRecovery != nil && !c.IsClosed() {
		room := rh.r.name
		h.goHook("OnRecovery", func() { h.hooks.OnRecovery(c, room, rec) })
	}
}

// replay sends c the stored messages after since, which must run without a
// hole from since+1 to the stream's top as read; it returns the offset the
// client has everything up to, and rec updated: a hole (a store that
// skipped an entry it could not decode, a read that raced trimming) makes
// it "expired", a queue that stays full "overflow".
func (rh *roomHistory) replay(ctx context.Context, c *Client, cu *catchup, sr *sharedRead, since Position, rec Recovery) (uint64, Recovery) {
	next := since.Offset + 1
	for i, e := range sr.entries {
		switch {
		case e.pos.Offset < next:
			continue
		case e.pos.Offset > next:
			rec.Recovered, rec.Reason = false, RecoveryExpired
			return next - 1, rec
		case cu.cancelled.Load():
			return next - 1, rec
		}
		if !excluded(c, nil, sr.except[i]) {
			if err := c.enqueueWait(ctx, e.f); err != nil {
				rec.Recovered, rec.Reason = false, RecoveryOverflow
				return next - 1, rec
			}
			rec.Replayed++
		}
		next++
	}
	if next-1 < sr.page.Top {
		rec.Recovered, rec.Reason = false, RecoveryExpired
	}
	return next - 1, rec
}

// answerLocked puts the recovery answer for c in the outbox, past c's
// queue bounds: the replay may have filled the queue, and the answer must
// not be what the drop policy loses.
func (rh *roomHistory) answerLocked(c *Client, rec Recovery) {
	h := rh.h
	var f *frame
	func() {
		defer func() {
			if p := recover(); p != nil {
				h.panicked("HistoryFramer", p)
				f = nil
			}
		}()
		if typ, data, ok := h.framer.FrameRecovery(rh.r.name, rec); ok {
			f = newFrame(typ, data)
		}
	}()
	if f != nil {
		rh.outbox = append(rh.outbox, delivery{f: f, c: c, force: true})
	}
}

// cancelLocked stops c's recovery of the room, if one runs, and forgets
// what the room knows of c; called under mu when c leaves.
func (rh *roomHistory) cancelLocked(c *Client) {
	if cu := rh.catchups[c]; cu != nil {
		cu.cancelled.Store(true)
		delete(rh.catchups, c)
	}
	delete(rh.ahead, c)
}

// readGroup is the recovery reads of one room from one offset: the one in
// flight, and the next, which waits for it.
type readGroup struct {
	cur  *sharedRead
	next *sharedRead // run by the client that created it, once cur is done
}

// read returns the store's messages after the offset, reading once for
// all the clients of the node that ask for the same offset at about the
// same time. A read serves only the clients that registered as recovering
// (their joined number) before it started: for a client that registered
// later, messages delivered between the read's start and its registration
// would be in neither the read nor its buffer. Such clients share the next
// read, which starts when the one in flight is done; so a reconnect storm
// costs a few reads, not one per client.
func (rh *roomHistory) read(after, joined uint64) *sharedRead {
	rh.mu.Lock()
	g := rh.reads[after]
	switch {
	case g == nil:
		sr := &sharedRead{done: make(chan struct{}), joins: rh.joins}
		if rh.reads == nil {
			rh.reads = make(map[uint64]*readGroup)
		}
		rh.reads[after] = &readGroup{cur: sr}
		rh.mu.Unlock()
		rh.load(after, sr)
		return sr
	case g.cur.joins >= joined:
		sr := g.cur
		rh.mu.Unlock()
		<-sr.done
		return sr
	case g.next != nil:
		sr := g.next
		rh.mu.Unlock()
		<-sr.done
		return sr
	}
	sr := &sharedRead{done: make(chan struct{})}
	g.next = sr
	cur := g.cur
	rh.mu.Unlock()
	<-cur.done
	rh.mu.Lock()
	sr.joins = rh.joins // every client waiting on it registered by now
	g.cur, g.next = sr, nil
	rh.mu.Unlock()
	rh.load(after, sr)
	return sr
}

// load reads the store into sr, frames what it got, and retires sr from
// its group unless a next read is waiting to take its place.
func (rh *roomHistory) load(after uint64, sr *sharedRead) {
	ctx, cancel := context.WithTimeout(rh.h.histCtx, historyReadTimeout)
	sr.page, sr.err = rh.h.hist.ReadHistory(ctx, rh.r.name, rh.opts, HistoryQuery{After: after, Limit: rh.opts.Size})
	cancel()
	if sr.err != nil {
		rh.h.adapterError(&AdapterError{Op: "history", Err: sr.err})
	}
	for i := range sr.page.Messages {
		m := &sr.page.Messages[i]
		if f := rh.h.historyFrame(rh.r.name, m); f != nil {
			sr.entries = append(sr.entries, histEntry{pos: m.Pos, f: f})
			sr.except = append(sr.except, m.ExceptClientIDs)
		}
	}
	rh.mu.Lock()
	if g := rh.reads[after]; g != nil && g.cur == sr && g.next == nil {
		delete(rh.reads, after)
	}
	rh.mu.Unlock()
	close(sr.done)
}
