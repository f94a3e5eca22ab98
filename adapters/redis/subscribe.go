package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/backoff"
	"github.com/wshub/wshub/internal/wire"
)

const (
	// minBackoff is the first window of the wait after a failed attempt to
	// subscribe or to read the subscription; each further failure doubles
	// it, up to maxBackoff for the initial subscription and
	// maxReconnectBackoff for a subscription that worked before. The lower
	// cap lets delivery resume within half a second of Redis coming back
	// after an outage, at the cost of a few refused dials per second per
	// node while it is away. Each wait is drawn from its whole window
	// (internal/backoff's full jitter), so the nodes of a cluster do not
	// all dial at the same instant.
	minBackoff          = 100 * time.Millisecond
	maxBackoff          = 5 * time.Second
	maxReconnectBackoff = 400 * time.Millisecond
	// pingInterval is how often the keeper looks at the link, and how long the
	// subscription may be idle before the keeper pings it.
	pingInterval = time.Second
)

// Subscribe starts delivering messages from other nodes to handler. It
// subscribes to the broadcast and presence channels and to the channel of
// every room with declared interest. When Redis answers, Subscribe waits for
// it to confirm the subscription (one round trip, bounded by the health
// timeout and ctx), so that messages published after Subscribe returns are
// received; when Redis is unreachable it returns at once and the keeper
// goroutine retries with backoff, reporting each failure (Op "subscribe").
// The goroutines it starts stop when ctx ends or Close is called.
//
// handler is called from one goroutine, one message at a time, with messages
// from every node including this one. Subscribe returns ErrNilHandler for a
// nil handler, core.ErrAdapterClosed after Close and ErrAlreadySubscribed on
// a second call; it never fails because Redis is unreachable.
func (a *Adapter) Subscribe(ctx context.Context, handler func(core.AdapterMessage)) error {
	if handler == nil {
		return ErrNilHandler
	}
	a.mu.Lock()
	if a.closed.Load() {
		a.mu.Unlock()
		return core.ErrAdapterClosed
	}
	if a.started {
		a.mu.Unlock()
		return ErrAlreadySubscribed
	}
	a.started = true
	a.byInterest = core.DeclaresRoomInterest(ctx)
	a.handler = handler
	a.epoch = time.Now()
	a.linkErr = fmt.Errorf("%w: subscribing", ErrNotConnected)
	// The goroutines outlive this call: they run on a context of their own,
	// derived from ctx so that they also stop when the caller's ctx ends.
	runCtx, cancel := context.WithCancel(ctx)
	a.cancel = cancel
	// Without channels, Subscribe only builds the PubSub; it does not dial.
	a.ps = a.client.Subscribe(runCtx)
	a.wg.Add(1)
	go a.keep(runCtx)
	a.mu.Unlock()

	t := time.NewTimer(a.healthTimeout)
	defer t.Stop()
	select {
	case <-a.firstAnswer:
	case <-a.firstFailed:
	case <-t.C:
	case <-runCtx.Done(): // ctx ended or Close was called
	}
	return nil
}

// SetRoomInterest records whether this node wants the traffic of room. It
// never blocks on Redis: the keeper goroutine subscribes to or unsubscribes
// from the room's channel in the background. A new interest holds back this
// adapter's later publishes until Redis has confirmed the subscription (at
// most the health timeout, and not while the link is down), so a message
// another node sends in answer to one published after the join reaches
// this node. Interest declared before Subscribe takes effect with
// Subscribe; calls after Close are ignored.
func (a *Adapter) SetRoomInterest(room string, interested bool) {
	a.mu.Lock()
	if a.closed.Load() {
		a.mu.Unlock()
		return
	}
	if interested {
		if _, ok := a.interest[room]; !ok {
			a.interestVer++ // a new interest: the next version to confirm
		}
		a.interest[room] = struct{}{}
	} else {
		delete(a.interest, room)
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default: // a wake-up is already pending; it will see this change too
	}
}

// keep is the keeper goroutine: it subscribes, starts the receiver, then
// applies interest changes and watches the link until ctx ends. It closes the
// PubSub on its way out, which ends the receiver's blocking read.
func (a *Adapter) keep(ctx context.Context) {
	defer a.wg.Done()
	defer a.closePubSub()
	defer a.linkDown(errStopped)

	// applied holds the rooms whose channels the PubSub holds. go-redis
	// records a channel in its PubSub on Subscribe and forgets it on
	// Unsubscribe even when the command fails, and subscribes again to all it
	// holds whenever it reconnects; so after either call the PubSub's set is
	// what we asked for, whatever happened on the wire.
	applied := make(map[string]struct{})
	if !a.subscribeFirst(ctx, applied) {
		return
	}
	a.wg.Add(1)
	go a.receive(ctx)
	a.reconcile(ctx, applied)

	ticker := time.NewTicker(pingInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.wake:
			a.reconcile(ctx, applied)
		case <-ticker.C:
			a.watchLink(ctx, applied)
		}
	}
}

// subscribeFirst subscribes to the base channels and the rooms of interest,
// retrying with backoff until it succeeds (true) or ctx ends (false).
func (a *Adapter) subscribeFirst(ctx context.Context, applied map[string]struct{}) bool {
	ps := a.currentPubSub()
	b := backoff.Backoff{Min: minBackoff, Max: maxBackoff}
	for {
		var chans []string
		a.mu.Lock()
		ver := a.interestVer
		if a.byInterest {
			for room := range a.interest {
				chans = append(chans, a.roomChannel(room))
				applied[room] = struct{}{}
			}
		}
		a.mu.Unlock()
		err := a.subscribeBase(ctx, ps, chans...)
		if err == nil {
			a.sendConfirm(ctx, ps, ver)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		err = fmt.Errorf("subscribe: %w", err)
		a.linkDown(err)
		a.failures.Fail("subscribe", err)
		a.failOnce.Do(func() { close(a.firstFailed) })
		if !sleep(ctx, b.Next()) {
			return false
		}
	}
}

// reconcile brings the PubSub's room channels in line with the declared
// interest.
func (a *Adapter) reconcile(ctx context.Context, applied map[string]struct{}) {
	a.mu.Lock()
	ver := a.interestVer
	if !a.byInterest {
		// The room pattern already takes every room; a new interest needs
		// only its confirmation.
		ps := a.ps
		a.mu.Unlock()
		a.sendConfirm(ctx, ps, ver)
		return
	}
	var add, del []string
	for room := range a.interest {
		if _, ok := applied[room]; !ok {
			add = append(add, room)
		}
	}
	for room := range applied {
		if _, ok := a.interest[room]; !ok {
			del = append(del, room)
		}
	}
	ps := a.ps
	a.mu.Unlock()

	// Both calls need at least one channel: Unsubscribe without any would
	// drop every channel, the base ones included.
	if len(add) > 0 {
		chans := make([]string, len(add))
		for i, room := range add {
			chans[i] = a.roomChannel(room)
			applied[room] = struct{}{}
		}
		if err := ps.Subscribe(ctx, chans...); err != nil && ctx.Err() == nil {
			a.failures.Fail("subscribe", fmt.Errorf("subscribe to %d room channels: %w", len(chans), err))
		}
	}
	if len(del) > 0 {
		chans := make([]string, len(del))
		for i, room := range del {
			chans[i] = a.roomChannel(room)
			delete(applied, room)
		}
		if err := ps.Unsubscribe(ctx, chans...); err != nil && ctx.Err() == nil {
			a.failures.Fail("subscribe", fmt.Errorf("unsubscribe from %d room channels: %w", len(chans), err))
		}
	}
	a.sendConfirm(ctx, ps, ver)
}

// watchLink pings an idle subscription and replaces one that stopped
// answering: a connection that died without the peer closing it (power
// loss, a dropped network path) gives the receiver no error to react to.
func (a *Adapter) watchLink(ctx context.Context, applied map[string]struct{}) {
	if !a.live.Load() {
		return // the receiver is already retrying
	}
	if v := a.unconfirmed(); v != 0 {
		a.sendConfirm(ctx, a.currentPubSub(), v) // a confirmation lost with a connection
	}
	now := time.Since(a.epoch)
	last := time.Duration(a.lastRecv.Load())
	if a.pingSent != 0 && last >= a.pingSent {
		a.pingSent = 0 // answered (or other traffic arrived since)
	}
	switch {
	case a.pingSent != 0 && now-a.pingSent > a.healthTimeout:
		// Judged from the ping, not from the keeper's tick: a tick that
		// comes late on a busy machine must not take an answering link
		// for a dead one.
		err := fmt.Errorf("no reply on the subscription for %v, %v after a ping",
			(now - last).Round(time.Millisecond), (now - a.pingSent).Round(time.Millisecond))
		a.pingSent = 0
		a.linkDown(err)
		a.failures.Fail("subscribe", err)
		a.replacePubSub(ctx, applied)
	case a.pingSent == 0 && now-last >= pingInterval:
		a.pingSent = max(now, 1)
		pctx, cancel := context.WithTimeout(ctx, a.healthTimeout)
		// A failed PING needs no handling here: go-redis drops a broken
		// connection, the receiver's read fails and it reports the failure.
		_ = a.currentPubSub().Ping(pctx)
		cancel()
	}
}

// replacePubSub swaps in a new PubSub holding the same channels and closes
// the old one, which makes the receiver move over to the new one.
func (a *Adapter) replacePubSub(ctx context.Context, applied map[string]struct{}) {
	chans := make([]string, 0, len(applied))
	for room := range applied {
		chans = append(chans, a.roomChannel(room))
	}
	ver := a.unconfirmed()
	nps := a.client.Subscribe(ctx)
	sctx, cancel := context.WithTimeout(ctx, a.healthTimeout)
	// On failure the new PubSub still holds chans and subscribes to them when
	// the receiver's next read connects it.
	_ = a.subscribeBase(sctx, nps, chans...)
	cancel()
	a.sendConfirm(ctx, nps, ver)
	a.mu.Lock()
	old := a.ps
	a.ps = nps
	a.mu.Unlock()
	_ = old.Close() // only error: already closed
}

// closePubSub closes the current PubSub and leaves none, which tells the
// receiver to stop.
func (a *Adapter) closePubSub() {
	a.mu.Lock()
	ps := a.ps
	a.ps = nil
	a.mu.Unlock()
	if ps != nil {
		_ = ps.Close() // only error: already closed
	}
}

func (a *Adapter) currentPubSub() *goredis.PubSub {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ps
}

// receive is the receiver goroutine: it reads the subscription and hands
// each message to deliver until the keeper closes the PubSub.
func (a *Adapter) receive(ctx context.Context) {
	defer a.wg.Done()
	// The receiver may have marked the link up after the keeper stopped.
	defer a.linkDown(errStopped)
	b := backoff.Backoff{Min: minBackoff, Max: maxReconnectBackoff}
	for {
		ps := a.currentPubSub()
		if ps == nil || ctx.Err() != nil {
			return
		}
		// Receive connects (and subscribes again) first when go-redis dropped
		// the connection after an error.
		reply, err := ps.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil || a.currentPubSub() != ps {
				continue // stopping, or the keeper replaced the PubSub
			}
			err = fmt.Errorf("receive: %w", err)
			a.linkDown(err)
			a.failures.Fail("subscribe", err)
			if !sleep(ctx, b.Next()) {
				return
			}
			continue
		}
		b.Reset()
		a.linkUp()
		switch r := reply.(type) {
		case *goredis.Message:
			a.deliver(r)
		case *goredis.Pong:
			if v, ok := parseConfirm(r.Payload); ok {
				a.confirmed(v)
			}
		}
	}
}

// deliver decodes one payload and hands it to the handler. Payloads that do
// not decode are reported and dropped; a panicking handler is reported too
// and does not stop the receiver.
func (a *Adapter) deliver(m *goredis.Message) {
	msg, err := wire.Decode([]byte(m.Payload))
	if err != nil {
		a.failures.Fail(wire.ErrorOp(err), fmt.Errorf("message on %q: %w", m.Channel, err))
		return
	}
	if m.Pattern != "" && !a.isRoomChannelOf(m.Channel, &msg) {
		// The room pattern also matches the channels of a deployment whose
		// prefix nests under ours (<prefix>:room:x:all); not ours.
		return
	}
	defer func() {
		if r := recover(); r != nil {
			a.failures.Fail("subscribe", fmt.Errorf("handler panicked on a message from %q: %v", msg.NodeID, r))
		}
	}()
	a.handler(msg)
}

// linkUp records a reply read from the subscription. When the link comes
// back it wakes the keeper, which confirms the room subscriptions that
// go-redis made again on the new connection.
func (a *Adapter) linkUp() {
	a.lastRecv.Store(int64(time.Since(a.epoch)))
	if !a.live.Load() {
		a.mu.Lock()
		a.linkErr = nil
		a.live.Store(true)
		a.down.Store(false)
		a.mu.Unlock()
		a.confirmOnce.Do(func() { close(a.firstAnswer) })
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
}

// linkDown records why the subscription is not live, and releases the
// publishers waiting for a confirmation that will not come on this link.
func (a *Adapter) linkDown(err error) {
	a.mu.Lock()
	a.linkErr = err
	a.live.Store(false)
	// A subscription that ended because its context did (the hub is
	// stopping) says nothing about Redis: the hub's last flush still
	// publishes.
	a.down.Store(!errors.Is(err, errStopped))
	close(a.confirmCh)
	a.confirmCh = make(chan struct{})
	a.mu.Unlock()
}

// errStopped is the link state once the Subscribe ctx ended: nothing is
// received any more.
var errStopped = fmt.Errorf("%w: the Subscribe context ended", ErrNotConnected)

// sleep waits for d or until ctx ends; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
