package core

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"
)

// The member tracker keeps this node's share of the member records in the
// shared store equal to its local memberships. It is state-based: a join or
// leave only updates the local table and marks the (room, user) key dirty;
// a worker then reads the key's record, puts this node's current
// connections into it and writes it back with compare-and-set. A key dirtied
// many times while queued is written once, a failed write is retried from
// the then-current state, and the work waiting is bounded by the keys this
// node has touched, so a store outage costs no memory beyond the members.
//
// Deciding the user-level events in that same compare-and-set step is what
// makes each fire once in the cluster: of all the nodes racing on a record,
// only the one whose write moved it from "no connection" to "a connection"
// fires the join, and only the one that deleted it fires the leave.

// presenceWorkers is how many store updates a node runs at once.
const presenceWorkers = 16

// maxPresenceInfo bounds the info of a connection or membership.
const maxPresenceInfo = 4 << 10

// presenceOpTimeout bounds one store update or sweep.
const presenceOpTimeout = 5 * time.Second

// presenceRefresh is how often a node checks all its records again (and
// rewrites them, for a store with a TTL, every TTL/3).
const presenceRefresh = time.Minute

// presenceRetryFirst and presenceRetryLast are the first and the longest
// backoff of failed updates.
const (
	presenceRetryFirst = 50 * time.Millisecond
	presenceRetryLast  = 5 * time.Second
)

// ErrPresenceInfoTooLarge is returned by Client.SetPresenceInfo and
// SetRoomPresenceInfo for info over 4 KiB.
var ErrPresenceInfoTooLarge = errors.New("wshub: presence info over 4 KiB")

type pkey struct{ room, key string }

// memberKey is the record key of a user, or of a client without a user ID.
func memberKey(user, client string) string {
	if user != "" {
		return "u:" + user
	}
	return "c:" + client
}

type localConn struct {
	joined   int64  // Unix ms
	info     []byte // the membership's own info
	hasInfo  bool   // info overrides the client's
	clientID string
}

type localEntry struct {
	user  string
	conns map[*Client]*localConn
}

type keyState struct {
	queued, inflight, again, force bool
	sweep                          bool // also remove what dead nodes left (see orphans)
}

type memberTracker struct {
	h        *Hub
	store    PresenceAdapter
	instance string
	ttl      time.Duration

	mu       sync.Mutex
	cond     *sync.Cond
	local    map[pkey]*localEntry
	byClient map[*Client]map[string]pkey // the client's tracked rooms
	states   map[pkey]*keyState          // keys queued or being written
	queue    []pkey
	failed   map[pkey]bool // waiting for the retry timer; true: the write also sweeps
	retry    *time.Timer
	backoff  time.Duration
	// sweepFailed: the last sweep could not list the records; the retry
	// timer runs it again.
	sweepFailed bool
	lingers     map[pkey]*time.Timer   // records this node lingers, by deadline
	unheard     map[string]*time.Timer // sweeps arranged for nodes not heard (see watchUnheard)
	stopping    bool                   // Shutdown: leaves fire at once
	stopped     bool                   // workers exit
	sweepReq    bool
	sweeping    bool
	idle        chan struct{} // closed and replaced when no work is left
	quit        chan struct{} // closed by stop
	// ctx bounds every store call; stop cancels it when its own context
	// ends, so a hung store cannot hold Shutdown past its deadline.
	ctx    context.Context //nolint:containedctx // the tracker's lifetime for store calls
	cancel context.CancelFunc

	wg sync.WaitGroup
	// hooks counts the presence hooks running, which Shutdown waits for
	// before it stops the publisher: a leave the hook broadcasts must
	// still go out.
	hooks sync.WaitGroup
}

func newMemberTracker(h *Hub, store PresenceAdapter) *memberTracker {
	t := &memberTracker{h: h, store: store, instance: newClientID(),
		local: make(map[pkey]*localEntry), byClient: make(map[*Client]map[string]pkey),
		states: make(map[pkey]*keyState), failed: make(map[pkey]bool),
		lingers: make(map[pkey]*time.Timer), unheard: make(map[string]*time.Timer), idle: make(chan struct{}), quit: make(chan struct{})}
	t.cond = sync.NewCond(&t.mu)
	t.ctx, t.cancel = context.WithCancel(context.Background())
	if tl, ok := store.(PresenceTTLAdapter); ok {
		t.ttl = tl.PresenceTTL()
	}
	return t
}

// start runs the workers and the refresh loop until stop.
func (t *memberTracker) start(ctx context.Context) {
	t.wg.Add(presenceWorkers + 1)
	for range presenceWorkers {
		go t.work()
	}
	go t.refreshLoop(ctx)
}

// add records c's membership of room; it runs under the room's lock, so
// adds and removes of one membership arrive in order.
func (t *memberTracker) add(room string, c *Client) {
	t.mu.Lock()
	defer t.mu.Unlock()
	user := c.GetUserID()
	k := pkey{room, memberKey(user, c.ID)}
	e := t.local[k]
	if e == nil {
		e = &localEntry{user: user, conns: make(map[*Client]*localConn, 1)}
		t.local[k] = e
	}
	e.conns[c] = &localConn{joined: time.Now().UnixMilli(), clientID: c.ID}
	rooms := t.byClient[c]
	if rooms == nil {
		rooms = make(map[string]pkey, 1)
		t.byClient[c] = rooms
	}
	rooms[room] = k
	t.markLocked(k, false)
}

// remove forgets c's membership of room, under the room's lock.
func (t *memberTracker) remove(room string, c *Client) {
	t.mu.Lock()
	defer t.mu.Unlock()
	k, ok := t.byClient[c][room]
	if !ok {
		return
	}
	delete(t.byClient[c], room)
	if len(t.byClient[c]) == 0 {
		delete(t.byClient, c)
	}
	if e := t.local[k]; e != nil {
		delete(e.conns, c)
		if len(e.conns) == 0 {
			delete(t.local, k)
		}
	}
	t.markLocked(k, false)
}

// rekey moves c's memberships to its current user ID after SetUserID.
func (t *memberTracker) rekey(c *Client) {
	t.mu.Lock()
	defer t.mu.Unlock()
	user := c.GetUserID()
	for room, old := range t.byClient[c] {
		k := pkey{room, memberKey(user, c.ID)}
		if k == old {
			continue
		}
		e := t.local[old]
		lc := e.conns[c]
		delete(e.conns, c)
		if len(e.conns) == 0 {
			delete(t.local, old)
		}
		ne := t.local[k]
		if ne == nil {
			ne = &localEntry{user: user, conns: make(map[*Client]*localConn, 1)}
			t.local[k] = ne
		}
		ne.conns[c] = lc
		t.byClient[c][room] = k
		t.markLocked(old, false)
		t.markLocked(k, false)
	}
}

// setInfo sets c's info for room, or for all its rooms when room is "".
func (t *memberTracker) setInfo(c *Client, room string, info []byte) {
	info = slices.Clone(info)
	if room == "" {
		c.state.Lock()
		c.presenceInfo = info
		c.state.Unlock()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for r, k := range t.byClient[c] {
		if room != "" && r != room {
			continue
		}
		if lc := t.local[k].conns[c]; lc != nil && room != "" {
			lc.info, lc.hasInfo = info, true
		}
		t.markLocked(k, false)
	}
}

// markLocked queues k for a write; force rewrites the record even when
// unchanged (a refresh for a store with a TTL).
func (t *memberTracker) markLocked(k pkey, force bool) {
	st := t.states[k]
	if st == nil {
		st = &keyState{}
		t.states[k] = st
	}
	st.force = st.force || force
	switch {
	case st.inflight:
		st.again = true
	case !st.queued:
		st.queued = true
		t.queue = append(t.queue, k)
		t.cond.Signal()
	}
}

func (t *memberTracker) mark(k pkey, force bool) {
	t.mu.Lock()
	t.markLocked(k, force)
	t.mu.Unlock()
}

func (t *memberTracker) work() {
	defer t.wg.Done()
	t.mu.Lock()
	for {
		for len(t.queue) == 0 && !t.stopped {
			t.cond.Wait()
		}
		if t.stopped {
			t.mu.Unlock()
			return
		}
		k := t.queue[0]
		t.queue[0] = pkey{}
		t.queue = t.queue[1:]
		st := t.states[k]
		st.queued, st.inflight = false, true
		force, sweep := st.force, st.sweep
		st.force, st.sweep = false, false
		t.mu.Unlock()

		var gone *orphans
		if sweep {
			gone = t.orphans()
		}
		ctx, cancel := context.WithTimeout(t.ctx, presenceOpTimeout)
		err := t.update(ctx, k, force, gone)
		cancel()

		t.mu.Lock()
		st.inflight = false
		switch {
		case err != nil:
			t.h.adapterError(&AdapterError{Op: "presence", Err: err})
			delete(t.states, k)
			if !t.stopped {
				// A sweep's write that failed is retried as one: the
				// leaves a dead node owes must not wait for the next
				// refresh.
				t.failLocked(k, sweep || st.sweep)
			}
		case st.again:
			st.again, st.queued = false, true
			t.queue = append(t.queue, k)
			t.backoff = 0
		default:
			delete(t.states, k)
			t.backoff = 0
		}
		t.idleLocked()
	}
}

// failLocked parks k until the retry timer, which backs off while writes
// keep failing; sweep asks for the retry to remove what dead nodes left
// too.
func (t *memberTracker) failLocked(k pkey, sweep bool) {
	t.failed[k] = t.failed[k] || sweep
	t.armRetryLocked()
}

// armRetryLocked starts the retry timer of failed writes and sweeps,
// unless it runs already. The wait doubles while they keep failing; a
// write that succeeds resets it.
func (t *memberTracker) armRetryLocked() {
	if t.retry != nil {
		return
	}
	t.backoff = min(max(t.backoff*2, presenceRetryFirst), presenceRetryLast)
	t.retry = time.AfterFunc(t.backoff, func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.retry = nil
		if t.stopped {
			return
		}
		for k, sweep := range t.failed {
			t.markLocked(k, false)
			t.states[k].sweep = t.states[k].sweep || sweep
		}
		clear(t.failed)
		if t.sweepFailed {
			t.sweepFailed = false
			t.requestSweepLocked()
		}
	})
}

// idleLocked wakes the waiters of drained when no work is left.
func (t *memberTracker) idleLocked() {
	if len(t.states) == 0 && len(t.failed) == 0 && !t.sweeping && !t.sweepReq && !t.sweepFailed {
		close(t.idle)
		t.idle = make(chan struct{})
	}
}

// orphans tells a sweep's update what dead nodes left in a record: conn
// reports the connections of dead nodes and of this node's earlier runs,
// node whether a node is dead.
type orphans struct {
	conn func(c *presenceConn) bool
	node func(node string) bool
}

// update writes k's record with this node's connections of k, deciding the
// user's join or leave in the same compare-and-set. With gone, it also
// removes the connections gone reports.
func (t *memberTracker) update(ctx context.Context, k pkey, force bool, gone *orphans) error {
	me := t.h.nodeID
	var linger time.Duration
	lingerKnown := false
	for attempt := 0; ; attempt++ {
		rec, err := t.store.GetPresence(ctx, k.room, k.key)
		if err != nil {
			return err
		}
		var old presenceDoc
		if rec.Rev != 0 {
			if old, err = decodePresenceDoc(rec.Data); err != nil {
				t.malformed(err)
				if errors.Is(err, errDocVersion) {
					return err // a newer node's: left to the newer nodes
				}
				old = presenceDoc{} // garbage: replaced by what this node knows
			}
		}
		now := time.Now()
		t.mu.Lock()
		mine, user := t.wantLocked(k)
		cut := t.stopping && t.cutLingers()
		t.mu.Unlock()

		doc := presenceDoc{user: old.user}
		if len(mine) > 0 {
			doc.user = user
		}
		var dropped []string // the other nodes whose connections go
		for _, c := range old.conns {
			if c.node == me {
				continue
			}
			if gone != nil && gone.conn(&c) {
				if !slices.Contains(dropped, c.node) {
					dropped = append(dropped, c.node)
				}
				continue
			}
			doc.conns = append(doc.conns, c)
		}
		doc.conns = append(doc.conns, mine...)
		slices.SortFunc(doc.conns, func(a, b presenceConn) int {
			return cmp.Or(cmp.Compare(a.joined, b.joined), strings.Compare(a.client, b.client))
		})

		var join, leave bool
		var leftInfo []byte // the info the user's leave carries
		lingering := old.lingerUntil != 0
		switch {
		case len(doc.conns) > 0:
			// A linger that ended without its leave written yet (a late
			// timer, a dead node) owes that leave before this join.
			expired := lingering && old.lingerUntil <= now.UnixMilli()
			join = len(old.conns) == 0 && (!lingering || expired)
			if expired {
				leave, leftInfo = true, old.lingerInfo
			}
		case len(old.conns) > 0: // the last connections left now
			if !lingerKnown {
				linger, lingerKnown = t.h.roomOptions(k.room).Presence.linger(), true
			}
			leftInfo = old.conns[len(old.conns)-1].info // the latest to join
			// A client without a user ID cannot come back as itself: it
			// leaves at once.
			if cut || linger <= 0 || old.user == "" {
				leave = true
			} else {
				doc.lingerUntil, doc.lingerNode, doc.lingerInfo = now.Add(linger).UnixMilli(), me, leftInfo
			}
		case lingering:
			leftInfo = old.lingerInfo
			if old.lingerUntil <= now.UnixMilli() || (cut && old.lingerNode == me) {
				leave = true
			} else {
				doc.lingerUntil, doc.lingerNode, doc.lingerInfo = old.lingerUntil, old.lingerNode, old.lingerInfo
				if gone != nil && old.lingerNode != me && gone.node(old.lingerNode) {
					doc.lingerNode = me // its node died: this one ends the linger
				}
			}
		}

		del := len(doc.conns) == 0 && doc.lingerUntil == 0
		switch {
		case rec.Rev == 0 && del:
			t.lingerTimer(k, &doc)
			return nil // nothing stored, nothing to store
		case rec.Rev != 0 && !del && doc.equal(&old) && (!force || (len(mine) == 0 && doc.lingerNode != me)):
			t.lingerTimer(k, &doc)
			return nil
		}
		var data []byte
		if !del {
			data = appendPresenceDoc(nil, &doc)
		}
		if _, err := t.store.SetPresence(ctx, k.room, k.key, data, rec.Rev); err != nil {
			if errors.Is(err, ErrPresenceConflict) && attempt < 64 {
				continue
			}
			return err
		}
		t.lingerTimer(k, &doc)
		for _, node := range dropped {
			t.h.pres.removed(node) // gone.conn reports other nodes only with heartbeats
		}
		if leave {
			ev := PresenceEvent{Room: k.room, UserID: old.user, NodeID: me, Info: leftInfo, At: now}
			if old.user == "" {
				ev.ClientID = strings.TrimPrefix(k.key, "c:")
			}
			t.event(false, ev)
		}
		if join {
			first := doc.conns[0]
			for _, c := range doc.conns {
				if c.node == me {
					first = c
					break
				}
			}
			t.event(true, PresenceEvent{Room: k.room, UserID: doc.user, ClientID: first.client,
				NodeID: me, Info: first.info, At: now})
		}
		return nil
	}
}

// wantLocked returns this node's connections of k as they belong in its
// record, and the user.
func (t *memberTracker) wantLocked(k pkey) ([]presenceConn, string) {
	e := t.local[k]
	if e == nil {
		return nil, ""
	}
	out := make([]presenceConn, 0, len(e.conns))
	for c, lc := range e.conns {
		info := lc.info
		if !lc.hasInfo {
			c.state.RLock()
			info = c.presenceInfo
			c.state.RUnlock()
		}
		out = append(out, presenceConn{node: t.h.nodeID, instance: t.instance, client: lc.clientID,
			joined: lc.joined, info: info})
	}
	return out, e.user
}

// lingerTimer arranges for the record to be checked again when the linger
// this node set on it ends.
func (t *memberTracker) lingerTimer(k pkey, d *presenceDoc) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old := t.lingers[k]; old != nil {
		old.Stop()
		delete(t.lingers, k)
	}
	if d.lingerUntil == 0 || d.lingerNode != t.h.nodeID || t.stopped {
		return
	}
	if t.stopping {
		if t.cutLingers() {
			t.markLocked(k, false) // a leave that raced with the stop: it ends now
		}
		return // the other nodes end it (see stop)
	}
	wait := time.Until(time.UnixMilli(d.lingerUntil)) + time.Millisecond
	t.lingers[k] = time.AfterFunc(wait, func() { t.mark(k, false) })
}

func (t *memberTracker) event(join bool, ev PresenceEvent) {
	hooks := &t.h.hooks
	run := func(name string, fn func(PresenceEvent)) {
		t.hooks.Add(1)
		t.h.goHook(name, func() {
			defer t.hooks.Done()
			fn(ev)
		})
	}
	if t.h.roomOptions(ev.Room).Presence.Events {
		// Here, not in a goroutine, so that a user's join and leave reach
		// the room in their order; a broadcast never waits for a broker.
		t.h.broadcastPresence(join, ev)
	}
	switch {
	case join && hooks.OnPresenceJoin != nil:
		run("OnPresenceJoin", hooks.OnPresenceJoin)
	case !join && hooks.OnPresenceLeave != nil:
		run("OnPresenceLeave", hooks.OnPresenceLeave)
	}
}

func (t *memberTracker) malformed(err error) {
	op := "decode"
	if errors.Is(err, errDocVersion) {
		op = "version"
	}
	t.h.adapterError(&AdapterError{Op: "presence_" + op, Err: err})
}

// refreshLoop queues every local record again each refresh period, forcing
// a rewrite for a store whose records expire, and runs the sweeps.
func (t *memberTracker) refreshLoop(ctx context.Context) {
	defer t.wg.Done()
	every := presenceRefresh
	if t.ttl > 0 {
		every = max(t.ttl/3, 100*time.Millisecond)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	// A sweep once the heartbeats had time to tell who is alive removes
	// what dead nodes (and this node's earlier runs) left behind.
	// Without heartbeats it can only remove this node's earlier runs.
	wait := time.Duration(0)
	if t.h.pres != nil {
		wait = 3*t.h.presenceInterval + t.h.presenceInterval/2
	}
	ft := time.NewTimer(wait)
	defer ft.Stop()
	firstSweep := ft.C
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.quit:
			return
		case <-tick.C:
			t.markAll(t.ttl > 0) // a store with a TTL must keep the lingers too
			t.requestSweep()     // a backstop for lingers no timer ends
		case <-firstSweep:
			t.requestSweep()
		}
	}
}

// requestSweep runs a sweep, or another one after the one running.
func (t *memberTracker) requestSweep() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.requestSweepLocked()
}

func (t *memberTracker) requestSweepLocked() {
	if t.stopped {
		return
	}
	t.sweepReq = true
	if t.sweeping {
		return
	}
	t.sweeping = true
	t.wg.Add(1)
	go t.sweepLoop()
}

func (t *memberTracker) sweepLoop() {
	defer t.wg.Done()
	t.mu.Lock()
	for t.sweepReq && !t.stopped {
		t.sweepReq = false
		t.mu.Unlock()
		ctx, cancel := context.WithTimeout(t.ctx, 4*presenceOpTimeout)
		err := t.sweep(ctx)
		cancel()
		if err != nil {
			t.h.adapterError(&AdapterError{Op: "presence", Err: err})
		}
		t.mu.Lock()
		if err != nil && !t.stopping && !t.sweepReq {
			// Again after the backoff, not at the next refresh: a dead
			// node's members would stay listed until then.
			t.sweepFailed = true
			t.armRetryLocked()
		}
	}
	t.sweeping = false
	t.idleLocked()
	t.mu.Unlock()
}

// sweep removes the connections of nodes that are not alive (and of this
// node's earlier runs) from every record, and ends the lingers such nodes
// left behind, firing the leaves they owe.
func (t *memberTracker) sweep(ctx context.Context) error {
	recs, err := t.store.ListPresence(ctx, "")
	if err != nil {
		return err
	}
	gone := t.orphans()
	me := t.h.nodeID
	graceMs := max(3*t.h.presenceInterval, time.Second).Milliseconds()
	// Decided without t.mu (the heartbeats' lock comes first, see evict).
	var due, mine []pkey
	docs := make([]presenceDoc, 0, len(recs))
	for _, r := range recs {
		d, err := decodePresenceDoc(r.Data)
		if err != nil {
			t.malformed(err)
			continue
		}
		docs = append(docs, d)
		k := pkey{r.Room, r.Key}
		// A linger needs a live node to end it: its own (this one after a
		// restart has no timer for it), another if that one died, or
		// anyone once it is long overdue.
		switch {
		case slices.ContainsFunc(d.conns, func(c presenceConn) bool { return gone.conn(&c) }),
			d.lingerUntil != 0 && (gone.node(d.lingerNode) || d.lingerUntil+graceMs < time.Now().UnixMilli()):
			due = append(due, k)
		case d.lingerUntil != 0 && d.lingerNode == me:
			mine = append(mine, k)
		}
	}
	t.watchUnheard(docs) // what is still too young to take is taken later
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range mine {
		if _, timed := t.lingers[k]; !timed {
			due = append(due, k)
		}
	}
	for _, k := range due {
		// Through the key's queue, so that the sweep's write and this
		// node's own never race on the linger timer.
		t.markLocked(k, false)
		t.states[k].sweep = true
	}
	return nil
}

// orphans returns what a sweep removes: the connections of nodes the
// heartbeats say are dead (this node evicted them, or they never sent one
// and joined too long ago for that to be lateness), and of this node's
// earlier runs.
func (t *memberTracker) orphans() *orphans {
	me := t.h.nodeID
	// Other nodes are known dead only from heartbeats.
	others := t.h.pres != nil
	dead := func(node string) bool { return node != me && others && !t.h.nodeAlive(node) }
	young := time.Now().Add(-3 * t.h.presenceInterval).UnixMilli()
	return &orphans{
		conn: func(c *presenceConn) bool {
			if c.node == me {
				return c.instance != t.instance
			}
			return dead(c.node) && (c.joined < young || t.h.pres.wasEvicted(c.node))
		},
		node: dead,
	}
}

// resync writes every record of this node's members again: another node
// evicted this one for a while (its link, or this node's, was down) and
// removed them.
func (t *memberTracker) resync() { t.markAll(false) }

// markAll queues every record of this node's members and of the lingers
// it ends.
func (t *memberTracker) markAll(force bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.local {
		t.markLocked(k, force)
	}
	for k := range t.lingers {
		t.markLocked(k, force)
	}
}

// cutLingers reports whether a stopping node ends its lingers itself: only
// without an adapter, when no other node is left to.
func (t *memberTracker) cutLingers() bool { return t.h.adapter == nil }

// stop removes this node's members from the store, waiting at most until
// ctx ends, then stops the workers and waits (as long) for the presence
// hooks to return. With an adapter, the lingers it started go on: the
// other nodes end them (they sweep on its goodbye), so that a client that
// reconnects elsewhere during a deploy fires nothing. Without one, no node
// is left to end them, and their leaves fire now.
func (t *memberTracker) stop(ctx context.Context) {
	defer context.AfterFunc(ctx, t.cancel)()
	defer t.cancel()
	t.mu.Lock()
	t.stopping = true
	if t.cutLingers() {
		for k := range t.lingers {
			t.markLocked(k, false)
		}
	}
	for k := range t.failed {
		t.markLocked(k, false)
	}
	clear(t.failed)
	t.sweepFailed = false // the other nodes sweep
	for len(t.states) > 0 || t.sweeping {
		idle := t.idle
		t.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
		}
		t.mu.Lock()
		if ctx.Err() != nil {
			break
		}
	}
	t.stopped = true
	close(t.quit)
	if t.retry != nil {
		t.retry.Stop()
		t.retry = nil
	}
	for k, tm := range t.lingers {
		tm.Stop()
		delete(t.lingers, k)
	}
	t.stopUnheardLocked()
	t.cond.Broadcast()
	t.mu.Unlock()
	t.wg.Wait()
	// The leaves just fired: their hooks may broadcast them, through the
	// publisher that stops next.
	done := make(chan struct{})
	go func() {
		t.hooks.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// nodeAlive reports whether node is this one or sends heartbeats.
func (h *Hub) nodeAlive(node string) bool {
	if node == h.nodeID {
		return true
	}
	if h.pres == nil {
		return false
	}
	h.pres.mu.Lock()
	defer h.pres.mu.Unlock()
	_, ok := h.pres.nodes[node]
	return ok
}
