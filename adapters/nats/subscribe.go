package nats

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	natsgo "github.com/nats-io/nats.go"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/backoff"
	"github.com/wshub/wshub/internal/wire"
)

const (
	// inboxSize is the capacity of the channel all subscriptions of one
	// adapter deliver into. It absorbs bursts while the handler is busy
	// (8192 pointers, 64 KB); when it is full nats.go drops the message as a
	// slow consumer, which the reconciler reports (Op "subscribe").
	inboxSize = 8192

	// minBackoff and maxBackoff are the first and the largest window of
	// the wait between attempts to subscribe (internal/backoff: each wait
	// is drawn from its whole window, so nodes do not retry together).
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second

	// dropCheckInterval is how often the reconciler looks for messages
	// dropped by nats.go because the inbox was full.
	dropCheckInterval = time.Second
)

// Subscribe starts delivering the other nodes' messages to handler. It
// subscribes to the broadcast and presence subjects and to every room with
// declared interest; when the connection is up it then waits for the broker
// to confirm (one round trip, bounded by the health timeout and ctx), so
// that messages published after Subscribe returns are received. It never
// waits for a broker that is down: subscriptions made while nats.go
// reconnects are sent once it is connected.
//
// Subscribe starts the dispatcher and the reconciler goroutines. handler is
// called from the dispatcher only, one message at a time. The reconciler
// retries failed subscriptions (SetRoomInterest applies its own) with a
// jittered backoff (each wait drawn at random from a window of 100 ms
// doubling to 5 s) until they succeed; each failure is reported (Op
// "subscribe"), and Subscribe itself does not fail for them.
// Both goroutines stop, and the subscriptions are removed, when ctx ends or
// Close is called.
//
// Subscribe may be called once: later calls return ErrAlreadySubscribed;
// after Close it returns core.ErrAdapterClosed.
func (a *Adapter) Subscribe(ctx context.Context, handler func(core.AdapterMessage)) error {
	if handler == nil {
		return ErrNilHandler
	}
	a.mu.Lock()
	if a.closed.Load() {
		a.mu.Unlock()
		return core.ErrAdapterClosed
	}
	if a.subscribed {
		a.mu.Unlock()
		return ErrAlreadySubscribed
	}
	a.subscribed = true
	a.inbox = make(chan *natsgo.Msg, inboxSize)
	a.rooms = make(map[string]*sub)
	a.byInterest = core.DeclaresRoomInterest(ctx)
	for room := range a.desired {
		a.dirty[room] = struct{}{}
	}
	// Added before Close can see subscribed: Close waits for the goroutines
	// started below.
	a.wg.Add(2)
	a.mu.Unlock()

	r := &reconciler{a: a}
	select {
	case <-a.wake: // interest declared so far is covered by this first pass
	default:
	}
	ok := r.pass()
	if a.nc.Status() == natsgo.CONNECTED {
		fctx, cancel := context.WithTimeout(ctx, a.healthTimeout)
		// A failed round trip only means the broker is slow or going away;
		// the subscriptions stand and nats.go sends them again on reconnect.
		_ = a.nc.FlushWithContext(fctx)
		cancel()
	}
	// Both goroutines watch ctx, which outlives this call by design: it is
	// the subscription's lifetime, as the core.Adapter contract defines.
	go a.dispatch(ctx, a.inbox, handler, !a.byInterest)
	go a.reconcile(ctx, r, !ok)
	return nil
}

// dispatch decodes messages from inbox and hands them to handler until ctx
// ends or the adapter is closed. With checkRooms (the room wildcard is in
// use) a message on a room subject must be a room message of that very
// subject: the wildcard also matches subjects of a deployment whose prefix
// is <prefix>.room, which are not ours.
func (a *Adapter) dispatch(ctx context.Context, inbox <-chan *natsgo.Msg, handler func(core.AdapterMessage), checkRooms bool) {
	defer a.wg.Done()
	for {
		select {
		case <-a.stop:
			return
		case <-ctx.Done():
			return
		case m := <-inbox:
			msg, err := wire.Decode(m.Data)
			if err != nil {
				a.failures.Fail(wire.ErrorOp(err), fmt.Errorf("message on %q: %w", m.Subject, err))
				continue
			}
			if strings.HasPrefix(m.Subject, a.subj.room) {
				if checkRooms && !a.isRoomSubjectOf(m.Subject, &msg) {
					continue
				}
				if !checkRooms && !a.fromCurrentRoomSub(msg.Room, m.Sub) {
					continue
				}
			}
			handler(msg)
		}
	}
}

// fromCurrentRoomSub reports whether s is the live subscription of room.
// Messages that an earlier subscription of the room put in the inbox before
// it was removed are skipped: they were routed while this node had left the
// room, and a member who joined since should not get them (nor should the
// hub see them as the start of the room's stream and count the gap that
// follows as lost).
func (a *Adapter) fromCurrentRoomSub(room string, s *natsgo.Subscription) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	cur := a.rooms[room]
	return cur != nil && cur.s == s
}

// sub is one live subscription and the drop count already reported for it.
type sub struct {
	s       *natsgo.Subscription
	dropped int
}

// reconciler is the state owned by the reconcile goroutine: the base
// subscriptions. Room subscriptions are in Adapter.rooms.
type reconciler struct {
	a    *Adapter
	all  sub
	pres sub
	// anyRoom takes every room's subject when the Subscribe ctx did not
	// declare room interest.
	anyRoom sub
}

// reconcile keeps the actual subscriptions equal to the desired ones until
// ctx ends or the adapter is closed, then removes them all. retryFirst says
// that the pass Subscribe made failed.
func (a *Adapter) reconcile(ctx context.Context, r *reconciler, retryFirst bool) {
	defer a.wg.Done()
	defer r.unsubscribeAll()

	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	drops := time.NewTicker(dropCheckInterval)
	defer drops.Stop()

	b := backoff.Backoff{Min: minBackoff, Max: maxBackoff}
	pass := false
	if retryFirst {
		retry.Reset(b.Next())
	}
	for {
		if pass {
			pass = false
			if r.pass() {
				b.Reset()
				retry.Stop()
			} else {
				retry.Reset(b.Next())
			}
		}
		select {
		case <-a.stop:
			return
		case <-ctx.Done():
			return
		case <-a.wake:
			pass = true
		case <-retry.C:
			pass = true
		case <-drops.C:
			r.checkDropped()
		}
	}
}

// pass makes one attempt to reach the desired state and reports whether it
// got there.
func (r *reconciler) pass() bool {
	a := r.a
	ok := r.ensureBase(&r.all, a.subj.all)
	ok = r.ensureBase(&r.pres, a.subj.presence) && ok
	if !a.byInterest {
		a.mu.Lock()
		clear(a.dirty)
		a.mu.Unlock()
		return r.ensureBase(&r.anyRoom, a.subj.room+"*") && ok
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for room := range a.dirty {
		_, want := a.desired[room]
		ok = a.applyRoomLocked(room, want) && ok
	}
	return ok
}

// ensureBase creates the subscription to subj if it does not exist yet and
// publishes the base subscriptions' state for CheckHealth.
func (r *reconciler) ensureBase(b *sub, subj string) bool {
	a := r.a
	if b.s != nil && b.s.IsValid() {
		return true
	}
	s, err := a.nc.ChanSubscribe(subj, a.inbox)
	a.mu.Lock()
	if err == nil {
		*b = sub{s: s}
		a.allSub, a.presSub = r.all.s, r.pres.s
		if r.all.s != nil && r.pres.s != nil {
			a.baseErr = nil
		}
	} else {
		a.baseErr = fmt.Errorf("subscribe %q: %w", subj, err)
	}
	a.mu.Unlock()
	if err != nil {
		a.failures.Fail("subscribe", fmt.Errorf("%q: %w", subj, err))
		return false
	}
	return true
}

// checkDropped reports messages nats.go dropped since the last check
// because the inbox was full.
func (r *reconciler) checkDropped() {
	var n int
	count := func(s *sub) {
		if s.s == nil {
			return
		}
		if d, err := s.s.Dropped(); err == nil && d > s.dropped {
			n += d - s.dropped
			s.dropped = d
		}
	}
	count(&r.all)
	count(&r.pres)
	count(&r.anyRoom)
	r.a.mu.Lock()
	for _, s := range r.a.rooms {
		count(s)
	}
	r.a.mu.Unlock()
	if n > 0 {
		r.a.failures.Fail("subscribe", fmt.Errorf("%w: %d messages dropped, handler too slow", natsgo.ErrSlowConsumer, n))
	}
}

// unsubscribeAll removes every subscription; after it returns nats.go
// delivers nothing more to the inbox.
func (r *reconciler) unsubscribeAll() {
	for _, s := range []*sub{&r.all, &r.pres, &r.anyRoom} {
		if s.s != nil {
			_ = s.s.Unsubscribe() // fails only if already gone
		}
	}
	a := r.a
	a.mu.Lock()
	for _, s := range a.rooms {
		_ = s.s.Unsubscribe() // fails only if already gone
	}
	clear(a.rooms)
	a.stopped = true
	a.allSub, a.presSub = nil, nil
	a.baseErr = errors.New("subscriptions stopped")
	a.mu.Unlock()
}
