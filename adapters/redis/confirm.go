package redis

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Room subscriptions ahead of later publishes.
//
// The subscription has a connection of its own, and publishes go through
// the client's pool: nothing orders a SUBSCRIBE on one against a PUBLISH on
// another. So when the hub declares interest in a room (its first local
// member joined) and then publishes, say, that member's "joined", another
// node could answer in the room before Redis has the subscription, and the
// answer would miss the member. To rule that out, every new interest gets a
// version; the keeper follows its SUBSCRIBE with a PING that carries the
// version on the subscription's connection, and Redis, which answers one
// connection's commands in order, answers that PING only after the
// SUBSCRIBE took effect. Publish waits (on the hub's publisher goroutine,
// never a sender) until the version current when it was called is
// confirmed, so what this node publishes after a join leaves only once the
// room's subscription is in place.

// confirmPrefix starts the payload of the keeper's confirming PINGs.
const confirmPrefix = "wshub-interest:"

// confirmPayload is the PING payload that confirms version v.
func confirmPayload(v uint64) string { return confirmPrefix + strconv.FormatUint(v, 10) }

// parseConfirm returns the version a PONG payload confirms, if it is one of
// ours.
func parseConfirm(payload string) (uint64, bool) {
	rest, ok := strings.CutPrefix(payload, confirmPrefix)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(rest, 10, 64)
	return v, err == nil
}

// sendConfirm asks Redis, on the subscription's connection, to confirm
// everything subscribed so far as version v. Failures need no handling: the
// keeper asks again on its next tick while v is unconfirmed.
func (a *Adapter) sendConfirm(ctx context.Context, ps *goredis.PubSub, v uint64) {
	if v == 0 || a.confirmedVer.Load() >= v {
		return
	}
	pctx, cancel := context.WithTimeout(ctx, a.healthTimeout)
	_ = ps.Ping(pctx, confirmPayload(v))
	cancel()
}

// confirmed records that Redis applied every subscription of version v and
// before, and wakes the publishers waiting for it.
func (a *Adapter) confirmed(v uint64) {
	a.mu.Lock()
	if v > a.confirmedVer.Load() {
		a.confirmedVer.Store(v)
		close(a.confirmCh)
		a.confirmCh = make(chan struct{})
	}
	a.mu.Unlock()
}

// unconfirmed returns the current interest version if Redis has not
// confirmed it yet, else 0.
func (a *Adapter) unconfirmed() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.interestVer > a.confirmedVer.Load() {
		return a.interestVer
	}
	return 0
}

// awaitInterest returns once the room subscriptions declared before it was
// called are in place at Redis. It does not wait while the link is down
// (nothing would be received anyway, and the hub does not publish then),
// and at most the health timeout, after which it reports the delay (Op
// "subscribe") and lets the publish go ahead.
func (a *Adapter) awaitInterest(ctx context.Context) {
	a.mu.Lock()
	v := a.interestVer
	a.mu.Unlock()
	if a.confirmedVer.Load() >= v || !a.live.Load() {
		return
	}
	timer := time.NewTimer(a.healthTimeout)
	defer timer.Stop()
	for {
		a.mu.Lock()
		ch := a.confirmCh
		a.mu.Unlock()
		if a.confirmedVer.Load() >= v || !a.live.Load() {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			a.failures.Fail("subscribe", fmt.Errorf("room subscription not confirmed by Redis within %v; publishing anyway", a.healthTimeout))
			return
		case <-ctx.Done():
			return
		}
	}
}
