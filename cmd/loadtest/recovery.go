package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/loadserver"
)

// recoveryFrameBuf is how much of each frame a recovery client reads: a
// message's frame up to its text header, or a whole recovery answer, with
// room to spare. The rest of a longer message is discarded unread.
const recoveryFrameBuf = 512

// redialPause is how long a client waits before it dials again after a
// failed dial.
const redialPause = 100 * time.Millisecond

// recoveryGroup runs the clients of the recovery scenario. Client i is in
// history room (Offset+i) mod Rooms. During the run each one drops its
// connection at random times and dials again after a random gap,
// presenting the cursor of the last message it received
// (core.RecoverParam); it then accounts for the offsets it receives: a
// repeated one is a duplicate, a hole is lost unless the recovery answer
// owned up to it (recovered false: an unrecovered gap).
//
// Goroutines: one per client (its loop: read, drop, wait, dial again),
// plus the dial workers of Connect. Close stops and waits for them.
type recoveryGroup struct {
	spec    groupSpec
	dialer  *websocket.Dialer
	hist    sharded // latency of live messages
	recHist sharded // recovery times: dial to recovery answer

	clients     []*recClient // set by Connect, read-only afterwards
	connectDone atomic.Bool
	connected   atomic.Int64
	errs        groupErrors
	started     atomic.Bool // Start was called: clients may drop
	noDrops     atomic.Bool // Finish was called: connections are kept
	finishing   chan struct{}
	closing     chan struct{}
	stopOnce    [2]sync.Once       // closes finishing, closing
	cancelDials context.CancelFunc // set by Connect, called by Close

	mu          sync.Mutex        // guards lossSamples and reasons
	lossSamples []string          // where the first lost messages were
	reasons     map[string]uint64 // why recoveries failed

	cpuStart float64
	wg       sync.WaitGroup // the client loops
}

var _ group = (*recoveryGroup)(nil)

// recClient is one client of the recovery scenario. Its loop owns the
// fields without a comment; the atomics are read by Progress and Finish.
type recClient struct {
	idx  int
	room int
	name string // the history room
	buf  []byte

	mu sync.Mutex      // guards ws against Finish and Close
	ws *websocket.Conn // the current connection; nil between two

	epoch       string // of the newest message received; "" before any
	last        uint64 // its offset
	first       uint64 // offset of the first message ever received
	recovering  bool   // dialled with a cursor, the answer has not come
	recStart    time.Time
	since       string // the cursor presented
	pendingHole uint64 // offsets skipped while recovering
	pendingAt   string // where the first of them was, for lossSamples

	lastOff     atomic.Uint64
	owned       atomic.Bool // a recovered:false answer, no message since: the next hole is its
	lastEpoch   atomic.Pointer[string]
	ready       atomic.Bool // connected and not recovering
	delivered   atomic.Uint64
	dupes       atomic.Uint64
	lost        atomic.Uint64
	unrecovered atomic.Uint64 // holes the recovery answer owned up to
	gaps        atomic.Uint64 // recoveries answered recovered:false
	recoveries  atomic.Uint64
	drops       atomic.Uint64
	lastRecv    atomic.Int64
}

func newRecoveryGroup(spec groupSpec) *recoveryGroup {
	return &recoveryGroup{
		spec:      spec,
		dialer:    newDialer(spec),
		finishing: make(chan struct{}),
		closing:   make(chan struct{}),
		reasons:   make(map[string]uint64),
	}
}

func (g *recoveryGroup) fail(err error) { g.errs.fail(err) }

// lose counts n messages of c as lost and keeps a sample of where.
func (g *recoveryGroup) lose(c *recClient, n uint64, format string, a ...any) {
	if n == 0 {
		return
	}
	c.lost.Add(n)
	msg := fmt.Sprintf("%s (client %d): %d lost: ", c.name, c.idx, n) + fmt.Sprintf(format, a...)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.lossSamples = appendSamples(g.lossSamples, []string{msg})
}

func (g *recoveryGroup) isClosing() bool {
	select {
	case <-g.closing:
		return true
	default:
		return false
	}
}

// Connect opens every client's first connection (no cursor) and starts its
// loop.
func (g *recoveryGroup) Connect(ctx context.Context) (connectResult, error) {
	start := time.Now()
	// The loops dial again during the whole run, long after Connect
	// returns: their context ends with Close.
	dialCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g.cancelDials = cancel
	n := g.spec.Clients
	slots := make([]*recClient, n)
	dialAll(ctx, n, g.spec.DialConcurrency, func(i int) {
		idx := g.spec.Offset + i
		c := &recClient{idx: idx, room: idx % g.spec.Rooms, buf: make([]byte, recoveryFrameBuf)}
		c.name = loadserver.HistoryRoom(c.room)
		ws, err := g.dial(ctx, c)
		if err != nil {
			g.fail(err)
			return
		}
		slots[i] = c
		c.ws = ws
		g.connected.Add(1)
		g.wg.Add(1)
		go g.loop(dialCtx, c, ws)
	})
	for _, c := range slots {
		if c != nil {
			g.clients = append(g.clients, c)
		}
	}
	g.connectDone.Store(true)
	return g.errs.connectResult(len(g.clients), start), ctx.Err()
}

// dial connects c to its room, presenting its cursor when it has one; it
// then expects a recovery answer.
func (g *recoveryGroup) dial(ctx context.Context, c *recClient) (*websocket.Conn, error) {
	q := url.Values{"room": {c.name}}
	since := c.cursor()
	if since != "" {
		q.Set(core.RecoverParam, since+":"+c.name)
	}
	start := time.Now()
	ws, resp, err := g.dialer.DialContext(ctx, g.spec.URL+"?"+q.Encode(), nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	c.connected(since, start)
	return ws, nil
}

// cursor returns the cursor of the last message c received, "" before any.
func (c *recClient) cursor() string {
	if c.epoch == "" {
		return ""
	}
	return core.FormatCursor(core.Position{Epoch: c.epoch, Offset: c.last})
}

// connected starts the accounting of a connection dialled at start with
// the cursor since ("": none, so no recovery answer will come).
func (c *recClient) connected(since string, start time.Time) {
	c.recovering, c.recStart, c.since, c.pendingHole = since != "", start, since, 0
	c.owned.Store(false)
	c.ready.Store(!c.recovering)
}

// ended closes the accounting of c's connection, which ended (dropped:
// by c itself).
func (g *recoveryGroup) ended(c *recClient, dropped bool) {
	c.ready.Store(false)
	if c.recovering {
		// The connection ended before the answer: nothing owns up to
		// the holes seen meanwhile.
		g.lose(c, c.pendingHole, "%s, and the connection ended before the recovery answer", c.pendingAt)
		c.recovering, c.pendingHole = false, 0
	}
	if dropped {
		c.drops.Add(1)
	}
}

// loop reads c's connection until it ends, then, unless the group is
// closing, waits (a random gap after a drop) and dials again, and so on.
func (g *recoveryGroup) loop(ctx context.Context, c *recClient, ws *websocket.Conn) {
	defer g.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		dropped := g.read(c, ws)
		c.mu.Lock()
		c.ws = nil
		c.mu.Unlock()
		_ = ws.Close()
		g.connected.Add(-1)
		g.ended(c, dropped)
		pause := time.Duration(0)
		switch {
		case g.isClosing():
			return
		case dropped && !g.noDrops.Load() && g.spec.GapNs > 0:
			pause = time.Duration(rand.Int64N(g.spec.GapNs + 1))
		case !dropped:
			pause = redialPause
		}
		for cut := dropped; ; cut = false {
			if pause > 0 && !g.wait(timer, pause, cut) {
				return
			}
			var err error
			if ws, err = g.dial(ctx, c); err == nil {
				break
			}
			if g.isClosing() {
				return
			}
			g.fail(err)
			pause = redialPause
		}
		c.mu.Lock()
		if g.isClosing() {
			c.mu.Unlock()
			_ = ws.Close()
			return
		}
		c.ws = ws
		c.mu.Unlock()
		g.connected.Add(1)
	}
}

// wait pauses for d; it reports false when Close comes. With cut, the
// pause (a drop's gap) ends when Finish comes: the run is over, the client
// reconnects at once.
func (g *recoveryGroup) wait(timer *time.Timer, d time.Duration, cut bool) bool {
	finishing := g.finishing
	if !cut {
		finishing = nil // a nil channel never receives
	}
	timer.Reset(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-finishing:
		return !g.isClosing()
	case <-g.closing:
		return false
	}
}

// read handles the frames of one connection until it ends, and reports
// whether it ended because this client dropped it. Once the client has a
// cursor and no recovery under way, and the run has started, it arms a
// read deadline at a random time: that is the drop.
func (g *recoveryGroup) read(c *recClient, ws *websocket.Conn) (dropped bool) {
	armed := false
	for {
		if !armed && c.epoch != "" && !c.recovering && g.started.Load() {
			armed = true
			g.armDrop(c, ws)
		}
		_, r, err := ws.NextReader()
		if err == nil {
			var n int
			n, err = io.ReadFull(r, c.buf)
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				err = nil // a frame shorter than the buffer
			}
			if err == nil {
				g.handle(c, c.buf[:n])
				continue
			}
		}
		switch {
		case g.isClosing():
			return false
		case armed && isTimeout(err):
			return true
		}
		g.fail(fmt.Errorf("connection lost: %w", err))
		return false
	}
}

// isTimeout reports whether err is a read deadline's (gorilla hides the
// os.ErrDeadlineExceeded chain behind its own net.Error).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// armDrop sets the read deadline of c's connection to a random time around
// DropEveryNs from now, unless Finish has stopped the drops.
func (g *recoveryGroup) armDrop(c *recClient, ws *websocket.Conn) {
	every := g.spec.DropEveryNs
	after := time.Duration(every/2 + rand.Int64N(every+1)) // uniform in [every/2, 3*every/2]
	c.mu.Lock()
	defer c.mu.Unlock()
	if !g.noDrops.Load() {
		_ = ws.NetConn().SetReadDeadline(time.Now().Add(after))
	}
}

// handle accounts for one frame.
func (g *recoveryGroup) handle(c *recClient, b []byte) {
	f, err := parseHistoryFrame(b)
	if err != nil {
		g.fail(err)
		return
	}
	if string(f.room) != c.name {
		g.fail(fmt.Errorf("a frame of room %q reached a client of %q", f.room, c.name))
		return
	}
	now := time.Now()
	if f.recovery != nil {
		g.recovered(c, f.recovery, now)
		return
	}
	if string(f.epoch) != c.epoch {
		if c.epoch == "" {
			// The first message: where the client's stream starts (Finish
			// checks it against the run's first offset).
			c.first, c.last = f.offset, f.offset-1
		} else {
			// The store started a new stream: offsets count from 1 again.
			// Not expected of this server's store, which keeps its rooms.
			g.fail(fmt.Errorf("room %s went from epoch %s to %s", c.name, c.epoch, f.epoch))
			c.last = 0
		}
		c.epoch = string(f.epoch)
		e := c.epoch // Finish reads the copy while this loop goes on
		c.lastEpoch.Store(&e)
	}
	switch {
	case f.offset <= c.last:
		c.dupes.Add(1)
		return
	case f.offset > c.last+1:
		hole := f.offset - c.last - 1
		switch {
		case c.owned.Load():
			c.unrecovered.Add(hole)
		case !c.recovering:
			g.lose(c, hole, "offsets %d..%d skipped by live messages", c.last+1, f.offset-1)
		case c.pendingHole == 0:
			c.pendingAt = fmt.Sprintf("offsets %d..%d skipped while recovering since %s", c.last+1, f.offset-1, c.since)
			fallthrough
		default:
			c.pendingHole += hole
		}
	}
	c.owned.Store(false)
	c.last = f.offset
	c.lastOff.Store(f.offset)
	c.delivered.Add(1)
	if !c.recovering { // a replayed message's age says nothing about latency
		g.hist.record(c.idx, now.UnixNano()-f.sent)
	}
	c.lastRecv.Store(now.UnixNano())
}

// recovered accounts for a recovery answer.
func (g *recoveryGroup) recovered(c *recClient, a *recoveryAnswer, now time.Time) {
	if !c.recovering {
		g.fail(fmt.Errorf("a recovery answer of %q without a recovery", c.name))
		return
	}
	c.recoveries.Add(1)
	g.recHist.record(c.idx, int64(now.Sub(c.recStart)))
	if a.Since != c.since {
		g.fail(fmt.Errorf("recovery answer since %q, the client presented %q", a.Since, c.since))
	}
	if a.Recovered {
		g.lose(c, c.pendingHole, "%s, and the answer said recovered (replayed %d)", c.pendingAt, a.Replayed)
	} else {
		// The hole is before the first message after the cursor: seen
		// already, or (the core answers before sending live messages) in
		// the next message.
		c.gaps.Add(1)
		c.unrecovered.Add(c.pendingHole)
		c.owned.Store(c.pendingHole == 0)
		g.mu.Lock()
		g.reasons[a.Reason]++
		g.mu.Unlock()
	}
	c.recovering, c.pendingHole = false, 0
	c.ready.Store(true)
}

// Start lets the clients drop their connections.
func (g *recoveryGroup) Start(context.Context) error {
	g.cpuStart = loadserver.ProcessCPUSeconds()
	g.started.Store(true)
	return nil
}

// Finish stops the drops (clients away dial again at once) and waits, at
// most the grace period, until every client is connected, done recovering,
// and has the newest message of its room; then it computes the result.
func (g *recoveryGroup) Finish(ctx context.Context, args finishArgs) (groupResult, error) {
	g.noDrops.Store(true)
	g.stopOnce[0].Do(func() { close(g.finishing) })
	for _, c := range g.clients {
		c.mu.Lock()
		if c.ws != nil {
			_ = c.ws.NetConn().SetReadDeadline(time.Time{})
		}
		c.mu.Unlock()
	}
	grace := time.NewTimer(graceOf(args))
	defer grace.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
wait:
	for !g.allDelivered(args.History) {
		select {
		case <-tick.C:
		case <-grace.C:
			break wait
		case <-ctx.Done():
			break wait
		}
	}
	return g.result(args), ctx.Err()
}

func (g *recoveryGroup) allDelivered(ranges []loadserver.HistoryRange) bool {
	for _, c := range g.clients {
		if !c.ready.Load() {
			return false
		}
		if c.room >= len(ranges) || ranges[c.room].Count() == 0 {
			continue
		}
		r := ranges[c.room]
		if c.owned.Load() {
			continue // its recovery failed; nothing more is coming
		}
		if e := c.lastEpoch.Load(); e == nil || *e != r.Epoch || c.lastOff.Load() < r.Top {
			return false
		}
	}
	return true
}

// result sums the clients' counts. A client is owed every offset of its
// room's range: what it did not receive before the first message it got,
// or after the last, counts as lost too.
func (g *recoveryGroup) result(args finishArgs) groupResult {
	r := groupResult{Recovery: &recoveryCounts{}}
	rc := r.Recovery
	// The end-of-run losses are counted first, so that r.Lost below has
	// them all.
	for _, c := range g.clients {
		if c.room >= len(args.History) {
			continue
		}
		want := args.History[c.room]
		r.Expected += want.Count()
		e := c.lastEpoch.Load()
		switch {
		case want.Count() == 0:
		case e == nil:
			g.lose(c, want.Count(), "received none of offsets %d..%d", want.First, want.Top)
		case *e != want.Epoch:
			g.fail(fmt.Errorf("client of %q ended in epoch %s, the run's is %s", c.name, *e, want.Epoch))
		default:
			// c.first is set once, before lastEpoch is first stored: safe
			// to read once lastEpoch is.
			if first := c.first; first > want.First {
				g.lose(c, first-want.First, "the first message received was offset %d, the run's first %d", first, want.First)
			}
			switch last := c.lastOff.Load(); {
			case last >= want.Top:
			case c.owned.Load():
				c.unrecovered.Add(want.Top - last) // the failed recovery's hole
			default:
				g.lose(c, want.Top-last, "the last message received was offset %d, the run's last %d", last, want.Top)
			}
		}
	}
	for _, c := range g.clients {
		if c.ready.Load() {
			r.Connected++
		} else {
			r.Disconnected++
		}
		r.Delivered += c.delivered.Load()
		r.Dupes += c.dupes.Load()
		r.Lost += c.lost.Load()
		r.LastRecvNs = max(r.LastRecvNs, c.lastRecv.Load())
		rc.Recoveries += c.recoveries.Load()
		rc.Gaps += c.gaps.Load()
		rc.Unrecovered += c.unrecovered.Load()
		rc.Drops += c.drops.Load()
	}
	r.Errors, r.ErrorSamples = g.errs.count.Load(), g.errs.errorSamples()
	g.mu.Lock()
	rc.LossSamples = append([]string(nil), g.lossSamples...)
	if len(g.reasons) > 0 {
		rc.Reasons = make(map[string]uint64, len(g.reasons))
		for k, v := range g.reasons {
			rc.Reasons[k] = v
		}
	}
	g.mu.Unlock()
	var h counts
	r.MaxNs = g.hist.snapshot(&h)
	r.Hist = h.sparse()
	rc.MaxNs = g.recHist.snapshot(&h)
	rc.Hist = h.sparse()
	r.CPUSeconds = loadserver.ProcessCPUSeconds() - g.cpuStart
	return r
}

// Progress adds the group's running totals to p and its latency histogram
// to h.
func (g *recoveryGroup) Progress(p *progress, h *counts) {
	p.Connected += g.connected.Load()
	p.Errors += g.errs.count.Load()
	if g.connectDone.Load() {
		for _, c := range g.clients {
			p.Done += c.delivered.Load()
		}
	}
	var own counts
	g.hist.snapshot(&own)
	h.add(&own)
}

// Close closes every connection, stops the loops (also those waiting or
// dialling) and waits for them.
func (g *recoveryGroup) Close(ctx context.Context) error {
	g.noDrops.Store(true)
	g.stopOnce[0].Do(func() { close(g.finishing) })
	g.stopOnce[1].Do(func() { close(g.closing) })
	if g.cancelDials != nil { // nil when Connect never ran
		g.cancelDials()
	}
	for _, c := range g.clients {
		c.mu.Lock()
		if c.ws != nil {
			closeConn(c.ws)
		}
		c.mu.Unlock()
	}
	done := make(chan struct{})
	go func() { // ends once every loop has seen closing, which is set above
		g.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("closing clients: %w", ctx.Err())
	}
}

// recoveryCounts is a group's recovery figures (groupResult.Recovery).
type recoveryCounts struct {
	Recoveries  uint64            `json:"recoveries"`
	Gaps        uint64            `json:"gaps"`
	Unrecovered uint64            `json:"unrecovered"`
	Reasons     map[string]uint64 `json:"reasons,omitempty"`
	Drops       uint64            `json:"drops"`
	LossSamples []string          `json:"loss_samples,omitempty"`
	Hist        [][2]uint64       `json:"hist"`
	MaxNs       int64             `json:"max_ns"`
}
