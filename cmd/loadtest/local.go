package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wshub/wshub/internal/loadserver"
)

// maxErrorSamples bounds the distinct error messages a group keeps.
const maxErrorSamples = 5

// wsClient is one connection. Its counters are written by its own goroutine
// and read atomically by progress and Finish.
type wsClient struct {
	idx  int // global index: room and histogram shard
	room int
	ws   *websocket.Conn
	nc   net.Conn
	buf  []byte // reused for every message

	next     uint64 // next expected sequence number (reader only)
	unique   atomic.Uint64
	dupes    atomic.Uint64
	sent     atomic.Uint64
	lastRecv atomic.Int64
	dead     atomic.Bool // the connection failed during the run

	slow       bool        // reads one message per SlowReadNs
	closed1013 atomic.Bool // the server closed it as too slow
}

// localGroup runs a group's clients in this process.
type localGroup struct {
	spec   groupSpec
	dialer *websocket.Dialer
	hist   sharded

	clients     []*wsClient // set by Connect, read-only afterwards
	connected   atomic.Int64
	connects    atomic.Uint64 // churn: successful connects
	skipped     atomic.Uint64 // churn: pacing tokens no slot was free for
	errs        groupErrors
	closing     atomic.Bool // errors from here on are our own doing
	connectDone atomic.Bool // Connect has set clients
	stopping    atomic.Bool // echo loops finish their round trip and stop

	cpuStart float64
	runStop  chan struct{}      // closed by Finish: churn slots and pacer stop
	runEnd   context.CancelFunc // cancels the churn dials' context
	wg       sync.WaitGroup     // readers, echo loops, churn slots and pacer
}

var _ group = (*localGroup)(nil)

func newLocalGroup(spec groupSpec) *localGroup {
	return &localGroup{spec: spec, dialer: newDialer(spec), runStop: make(chan struct{})}
}

// newGroup returns the group that runs spec's scenario in this process.
func newGroup(spec groupSpec) group {
	if spec.Scenario == scRecovery {
		return newRecoveryGroup(spec)
	}
	return newLocalGroup(spec)
}

// newDialer returns the dialer of a group's clients.
func newDialer(spec groupSpec) *websocket.Dialer {
	return &websocket.Dialer{
		NetDialContext:   (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		HandshakeTimeout: 10 * time.Second,
		// The read buffer decides how many frames one read syscall can
		// take (the dominant cost of the generator); the write buffer is
		// pooled and only used for control frames.
		ReadBufferSize:  spec.ReadBufferSize,
		WriteBufferSize: 256,
		WriteBufferPool: &sync.Pool{},
	}
}

func (g *localGroup) fail(err error) { g.errs.fail(err) }

// groupErrors counts a group's client errors and keeps the first few.
type groupErrors struct {
	count   atomic.Uint64
	mu      sync.Mutex
	samples []string
}

func (e *groupErrors) fail(err error) {
	e.count.Add(1)
	msg := err.Error()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.samples = appendSamples(e.samples, []string{msg})
}

func (e *groupErrors) errorSamples() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.samples...)
}

// connectResult is what Connect reports for a group with n clients
// connected since start.
func (e *groupErrors) connectResult(n int, start time.Time) connectResult {
	return connectResult{
		Connected:    n,
		Errors:       e.count.Load(),
		ErrorSamples: e.errorSamples(),
		ElapsedNs:    int64(time.Since(start)),
	}
}

// dial opens the connection of client i of the group.
func (g *localGroup) dial(ctx context.Context, i int) (*wsClient, error) {
	idx := g.spec.Offset + i
	c := &wsClient{idx: idx, slow: idx < g.spec.Slow}
	u := g.spec.URL
	if g.spec.Scenario == scRooms {
		c.room = idx % g.spec.Rooms
		u += "?room=r" + strconv.Itoa(c.room)
	}
	start := time.Now()
	ws, resp, err := g.dialer.DialContext(ctx, u, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("dial: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	if g.spec.Scenario == scConnect || g.spec.Scenario == scChurn {
		g.hist.record(idx, int64(time.Since(start)))
	}
	c.ws = ws
	c.nc = ws.UnderlyingConn()
	switch g.spec.Scenario {
	case scFanout, scRooms, scEcho, scRequest:
		c.buf = make([]byte, max(g.spec.Size, 64))
	default:
		c.buf = make([]byte, loadserver.HeaderSize)
	}
	return c, nil
}

// Connect opens the group's clients with DialConcurrency parallel dials and
// starts a reader for each (fanout, rooms, connect). Churn opens nothing
// here.
func (g *localGroup) Connect(ctx context.Context) (connectResult, error) {
	start := time.Now()
	if g.spec.Scenario == scChurn {
		return connectResult{}, nil
	}
	n := g.spec.Clients
	slots := make([]*wsClient, n)
	dialAll(ctx, n, g.spec.DialConcurrency, func(i int) {
		c, err := g.dial(ctx, i)
		if err != nil {
			g.fail(err)
			return
		}
		slots[i] = c
		g.connected.Add(1)
		switch {
		case c.slow:
			g.wg.Add(1)
			go g.slowReadLoop(c)
		case g.spec.Scenario != scEcho && g.spec.Scenario != scRequest:
			g.wg.Add(1)
			go g.readLoop(c)
		}
	})
	for _, c := range slots {
		if c != nil {
			g.clients = append(g.clients, c)
		}
	}
	g.connectDone.Store(true)
	return g.errs.connectResult(len(g.clients), start), ctx.Err()
}

// dialAll calls dial for 0..n-1 from conc goroutines and returns when all
// calls are done, or, when ctx ends, the calls under way.
func dialAll(ctx context.Context, n, conc int, dial func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < min(conc, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				dial(i)
			}
		}()
	}
	wg.Wait()
}

// readLoop reads messages until the connection ends, recording latency and
// sequence numbers. It parses the header in place: no allocation per
// message beyond gorilla's small reader object.
func (g *localGroup) readLoop(c *wsClient) {
	defer g.wg.Done()
	for {
		seq, sent, ok, err := c.readHeader()
		if err != nil {
			g.lost(c, err)
			return
		}
		if !ok {
			g.fail(errors.New("message shorter than the 16-byte header"))
			continue
		}
		now := time.Now().UnixNano()
		g.hist.record(c.idx, now-sent)
		switch {
		case seq == c.next:
			c.next++
			c.unique.Add(1)
		case seq > c.next: // a gap: the missing ones count as lost
			c.next = seq + 1
			c.unique.Add(1)
		default:
			c.dupes.Add(1)
		}
		c.lastRecv.Store(now)
	}
}

// slowReadLoop reads one message per SlowReadNs, or as fast as it can once
// the run is over, until the connection ends. A close with 1013 (the
// server's DisconnectSlow) is what this client is for, not an error.
func (g *localGroup) slowReadLoop(c *wsClient) {
	defer g.wg.Done()
	tick := time.NewTicker(time.Duration(g.spec.SlowReadNs))
	defer tick.Stop()
	for {
		if _, _, _, err := c.readHeader(); err != nil {
			if websocket.IsCloseError(err, websocket.CloseTryAgainLater) {
				c.closed1013.Store(true)
				c.dead.Store(true)
				g.connected.Add(-1)
				return
			}
			g.lost(c, err)
			return
		}
		c.unique.Add(1)
		c.lastRecv.Store(time.Now().UnixNano())
		select {
		case <-tick.C:
		case <-g.runStop:
		}
	}
}

// readHeader reads the next message into c.buf, as much of it as fits (the
// rest is discarded by the next read), and parses its header. ok is false
// for a message shorter than the header; err is set when the connection
// failed.
func (c *wsClient) readHeader() (seq uint64, sent int64, ok bool, err error) {
	_, r, err := c.ws.NextReader()
	if err != nil {
		return 0, 0, false, err
	}
	n, err := io.ReadFull(r, c.buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, 0, false, err
	}
	seq, sent, ok = loadserver.ParseHeader(c.buf[:n])
	return seq, sent, ok, nil
}

// lost records a connection that ended, unless we are closing it.
func (g *localGroup) lost(c *wsClient, err error) {
	if g.closing.Load() {
		return
	}
	c.dead.Store(true)
	g.connected.Add(-1)
	g.fail(fmt.Errorf("connection lost: %w", err))
}

// Start begins the active phase: echo loops or churn slots.
func (g *localGroup) Start(ctx context.Context) error {
	g.cpuStart = loadserver.ProcessCPUSeconds()
	// The churn dials' context outlives Start on purpose: Finish or Close
	// cancels it.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	g.runEnd = cancel
	switch g.spec.Scenario {
	case scEcho:
		for _, c := range g.clients {
			g.wg.Add(1)
			go g.echoLoop(c)
		}
	case scRequest:
		for _, c := range g.clients {
			g.wg.Add(1)
			go g.requestLoop(c)
		}
	case scChurn:
		g.startChurn(runCtx)
	}
	return nil
}

// echoLoop sends a message, waits for its echo, and repeats until Finish.
// Frames are masked and written straight to the socket from a buffer built
// once; only the header bytes change per message.
func (g *localGroup) echoLoop(c *wsClient) {
	defer g.wg.Done()
	frame, off, key := newClientFrame(g.spec.Size, uint32(rand.Uint64()))
	var hdr [loadserver.HeaderSize]byte
	for seq := uint64(0); !g.stopping.Load(); seq++ {
		loadserver.PutHeader(hdr[:], seq, time.Now().UnixNano())
		for i, b := range hdr {
			frame[off+i] = b ^ key[i&3]
		}
		if _, err := c.nc.Write(frame); err != nil {
			g.lost(c, err)
			return
		}
		c.sent.Add(1)
		for {
			got, sent, ok, err := c.readHeader()
			if err != nil {
				g.lost(c, err)
				return
			}
			if !ok || got != seq {
				c.dupes.Add(1) // not the echo we wait for
				continue
			}
			now := time.Now().UnixNano()
			g.hist.record(c.idx, now-sent)
			c.unique.Add(1)
			c.lastRecv.Store(now)
			break
		}
	}
}

// newClientFrame builds a masked binary frame with a size-byte zero payload
// and returns it with the payload's offset and the mask key.
func newClientFrame(size int, mask uint32) (frame []byte, off int, key [4]byte) {
	return newMaskedFrame(websocket.BinaryMessage, make([]byte, size), mask)
}

// startChurn starts the pacer and one goroutine per slot: each slot waits
// for a token, connects, holds the connection for its lifetime, closes it
// and starts over.
func (g *localGroup) startChurn(ctx context.Context) {
	rate := g.spec.ChurnRate
	// Slots hold connections a little shorter than Clients/rate so that, with
	// dial time added, there is usually a free slot for the next token.
	lifetime := time.Duration(0.9 * float64(g.spec.Clients) / rate * float64(time.Second))
	// tokens buffers 100 ms worth of connects, so a slot that comes back a
	// little late still finds one; a token that finds the buffer full is
	// counted as skipped.
	tokens := make(chan struct{}, max(1, int(rate/10)))
	g.wg.Add(1 + g.spec.Clients)
	go g.churnPacer(rate, tokens)
	for i := 0; i < g.spec.Clients; i++ {
		go g.churnSlot(ctx, i, lifetime, tokens)
	}
}

func (g *localGroup) churnPacer(rate float64, tokens chan<- struct{}) {
	defer g.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	start := time.Now()
	for i := 0; ; i++ {
		due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-g.runStop:
				return
			}
		}
		select {
		case tokens <- struct{}{}:
		case <-g.runStop:
			return
		default:
			g.skipped.Add(1)
		}
	}
}

func (g *localGroup) churnSlot(ctx context.Context, i int, lifetime time.Duration, tokens <-chan struct{}) {
	defer g.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-tokens:
		case <-g.runStop:
			return
		}
		c, err := g.dial(ctx, i)
		if err != nil {
			if ctx.Err() == nil {
				g.fail(err)
			}
			continue
		}
		g.connects.Add(1)
		g.connected.Add(1)
		timer.Reset(lifetime)
		select {
		case <-timer.C:
		case <-g.runStop:
		}
		closeClient(c)
		g.connected.Add(-1)
	}
}

// closeClient sends a close frame and closes the socket without waiting for
// the server's answer.
func closeClient(c *wsClient) { closeConn(c.ws) }

// closeConn sends a close frame on ws and closes it without waiting for
// the server's answer. It may be called while another goroutine reads ws.
func closeConn(ws *websocket.Conn) {
	_ = ws.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	_ = ws.Close()
}

// Finish ends the active phase and computes the group's result. For fanout
// and rooms it waits, at most the grace period, until every live client has
// all the messages the server sent to its room.
func (g *localGroup) Finish(ctx context.Context, args finishArgs) (groupResult, error) {
	grace := time.NewTimer(graceOf(args))
	defer grace.Stop()
	switch g.spec.Scenario {
	case scFanout, scRooms:
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		g.stopRun() // slow readers read what is left as fast as they can
	wait:
		for !g.allDelivered(args.SentPerRoom) || !g.slowSettled() {
			select {
			case <-tick.C:
			case <-grace.C:
				break wait
			case <-ctx.Done():
				break wait
			}
		}
	case scEcho, scRequest:
		g.stopping.Store(true)
		done := make(chan struct{})
		go func() { // ends when the loops end, which the close below forces
			g.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-grace.C:
		case <-ctx.Done():
		}
		g.closing.Store(true)
		for _, c := range g.clients {
			_ = c.ws.Close() // unblocks loops still waiting for an echo
		}
		<-done
	case scChurn:
		g.closing.Store(true)
	}
	g.stopRun()
	if g.spec.Scenario == scChurn {
		g.wg.Wait()
	}
	return g.result(args), ctx.Err()
}

// stopRun stops the churn slots and pacer and cancels the churn dials.
// Finish and Close both call it; only the group's driver does, one call at
// a time, so the check before close cannot race.
func (g *localGroup) stopRun() {
	select {
	case <-g.runStop:
	default:
		close(g.runStop)
	}
	if g.runEnd != nil { // nil when Close comes before Start
		g.runEnd()
	}
}

// slowSettled reports whether every slow reader has what the server
// queued for it: it is closed or, unless the server closes slow readers
// (SlowClosed), it has read nothing for 250 ms. A reader the server closes
// may sit idle for longer before its close frame arrives: once it drained
// its socket, the kernel's zero-window probes (which back off while the
// reader was full) decide when the server's queued bytes move again, so
// idleness does not tell it is done; the caller's grace bounds the wait.
func (g *localGroup) slowSettled() bool {
	idle := time.Now().Add(-250 * time.Millisecond).UnixNano()
	for _, c := range g.clients {
		if !c.slow || c.dead.Load() {
			continue
		}
		if g.spec.SlowClosed || c.lastRecv.Load() > idle {
			return false
		}
	}
	return true
}

func (g *localGroup) allDelivered(sent []uint64) bool {
	for _, c := range g.clients {
		if c.dead.Load() || c.slow {
			continue
		}
		if c.room < len(sent) && c.unique.Load() < sent[c.room] {
			return false
		}
	}
	return true
}

func (g *localGroup) result(args finishArgs) groupResult {
	r := groupResult{Errors: g.errs.count.Load(), ErrorSamples: g.errs.errorSamples()}
	for _, c := range g.clients {
		if c.slow {
			r.SlowClients++
			r.SlowDelivered += c.unique.Load()
			if c.closed1013.Load() {
				r.SlowClosed++
			}
			continue
		}
		if c.dead.Load() {
			r.Disconnected++
		} else {
			r.Connected++
		}
		u := c.unique.Load()
		r.Delivered += u
		r.Dupes += c.dupes.Load()
		r.LastRecvNs = max(r.LastRecvNs, c.lastRecv.Load())
		var exp uint64
		switch g.spec.Scenario {
		case scFanout, scRooms:
			if c.room < len(args.SentPerRoom) {
				exp = args.SentPerRoom[c.room]
			}
		case scEcho, scRequest:
			exp = c.sent.Load()
			r.Sent += exp
		}
		r.Expected += exp
		if exp > u {
			r.Lost += exp - u
		}
	}
	if g.spec.Scenario == scChurn {
		r.Delivered = g.connects.Load()
		r.ChurnSkipped = g.skipped.Load()
	}
	var h counts
	r.MaxNs = g.hist.snapshot(&h)
	r.Hist = h.sparse()
	r.CPUSeconds = loadserver.ProcessCPUSeconds() - g.cpuStart
	return r
}

// Progress adds the group's running totals to p and its histogram to h.
func (g *localGroup) Progress(p *progress, h *counts) {
	p.Connected += g.connected.Load()
	p.Errors += g.errs.count.Load()
	switch g.spec.Scenario {
	case scChurn:
		p.Done += g.connects.Load()
	case scConnect:
		p.Done += uint64(g.connected.Load())
	default:
		for _, c := range g.clientsSnapshot() {
			p.Done += c.unique.Load()
		}
	}
	var own counts
	g.hist.snapshot(&own)
	h.add(&own)
}

// clientsSnapshot returns the clients once Connect is done (nil before).
func (g *localGroup) clientsSnapshot() []*wsClient {
	if g.connectDone.Load() {
		return g.clients
	}
	return nil
}

// Close closes every connection and waits for the group's goroutines.
func (g *localGroup) Close(ctx context.Context) error {
	g.closing.Store(true)
	g.stopRun()
	for _, c := range g.clients {
		closeClient(c)
	}
	done := make(chan struct{})
	go func() { // ends once every connection is closed, which is done above
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
