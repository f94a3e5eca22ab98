package wshubtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

const (
	// waitTimeout bounds every wait for a delivery. Generous: a loaded CI
	// machine running the race detector against a real broker is slow.
	waitTimeout = 15 * time.Second
	// probeInterval is how often a probe is republished while waiting for
	// a subscription to become active.
	probeInterval = 50 * time.Millisecond
)

// RunContract runs the Contract part of the conformance suite, the
// checks of the adapter alone, as subtests of t.
//
// newAdapters must return n fresh adapters (n is at most 3) that reach one
// another, and only one another: traffic from other calls, other tests or
// other processes on a shared broker must not reach them (use a unique
// subject or channel prefix per call). The adapters must not be subscribed
// yet. RunContract closes each adapter once, before the cleanups that
// newAdapters registered on t run, so those may tear down a broker the
// adapters used. [RunAll] calls it with a factory built from
// [Suite.NewBus].
//
// The suite checks: delivery of every field; Subscribe called twice fails
// and Subscribe does not block; Publish from many goroutines; per-publisher
// order; Publish after Close returns core.ErrAdapterClosed; Close concurrent
// with Publish; Data not shared between publisher and receivers; and, where
// implemented, BatchPublisher, HealthCheckAdapter and RoomInterestAdapter
// (room messages reach only interested adapters, interest can be withdrawn
// and given again). Adapters may deliver a node's messages back to itself;
// the suite ignores them, as a hub does.
func RunContract(t *testing.T, newAdapters func(t *testing.T, n int) []core.Adapter) {
	t.Helper()
	f := factory(newAdapters)
	t.Run("DeliversAllFields", f.testDeliversAllFields)
	t.Run("SubscribeOnce", f.testSubscribeOnce)
	t.Run("SubscribeDoesNotBlock", f.testSubscribeDoesNotBlock)
	t.Run("ConcurrentPublish", f.testConcurrentPublish)
	t.Run("PerPublisherOrder", f.testPerPublisherOrder)
	t.Run("PublishAfterClose", f.testPublishAfterClose)
	t.Run("CloseConcurrentWithPublish", f.testCloseConcurrentWithPublish)
	t.Run("CancelThenClose", f.testCancelThenClose)
	t.Run("DataNotShared", f.testDataNotShared)
	t.Run("BatchPublish", f.testBatchPublish)
	t.Run("HealthCheck", f.testHealthCheck)
	t.Run("HealthAfterCancel", f.testHealthAfterCancel)
	t.Run("RoomMessagesWithoutDeclaredInterest", f.testRoomWithoutInterest)
	t.Run("RoomInterest", f.testRoomInterest)
	t.Run("RoomInterestWithdrawn", f.testRoomInterestWithdrawn)
}

type factory func(t *testing.T, n int) []core.Adapter

// node is one adapter of a test, standing for one hub.
type node struct {
	id  string
	a   core.Adapter
	rec *recorder

	closeOnce sync.Once
	closeErr  error
}

func (n *node) close() error {
	n.closeOnce.Do(func() { n.closeErr = n.a.Close() })
	return n.closeErr
}

// env is the state of one subtest.
type env struct {
	t      *testing.T
	ctx    context.Context //nolint:containedctx // scoped to one subtest and cancelled when it ends
	token  string          // makes node IDs and rooms unique to the test
	nodes  []*node
	probes int
}

func (f factory) setup(t *testing.T, n int) *env {
	t.Helper()
	adapters := f(t, n)
	require.Len(t, adapters, n, "newAdapters returned the wrong number of adapters")
	e := &env{t: t, token: fmt.Sprintf("%08x", rand.Uint32())}
	known := make(map[string]bool, n)
	for i := range n {
		known[fmt.Sprintf("at-%s-node%d", e.token, i)] = true
	}
	for i, a := range adapters {
		require.NotNil(t, a, "adapter %d", i)
		id := fmt.Sprintf("at-%s-node%d", e.token, i)
		e.nodes = append(e.nodes, &node{id: id, a: a, rec: newRecorder(id, known)})
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.ctx = ctx
	t.Cleanup(func() {
		for i, nd := range e.nodes {
			if err := nd.close(); err != nil {
				t.Errorf("Close of adapter %d: %v", i, err)
			}
		}
		cancel()
	})
	return e
}

func (e *env) subscribe(idx ...int) {
	e.t.Helper()
	for _, i := range idx {
		require.NoError(e.t, e.nodes[i].a.Subscribe(e.ctx, e.nodes[i].rec.handle), "Subscribe of adapter %d", i)
	}
}

// subscribeByInterest subscribes like a hub that declares room interest.
func (e *env) subscribeByInterest(idx ...int) {
	e.t.Helper()
	for _, i := range idx {
		require.NoError(e.t, e.nodes[i].a.Subscribe(core.WithRoomInterest(e.ctx), e.nodes[i].rec.handle), "Subscribe of adapter %d", i)
	}
}

func (e *env) publish(i int, m core.AdapterMessage) {
	e.t.Helper()
	m.NodeID = e.nodes[i].id
	require.NoError(e.t, e.nodes[i].a.Publish(e.ctx, m), "Publish from adapter %d", i)
}

func (e *env) room(name string) string { return "at-" + e.token + "-" + name }

// probe publishes room messages from node pub until node recv receives
// one, which shows that recv's interest in room is active on the broker.
func (e *env) probe(pub, recv int, room string) {
	e.t.Helper()
	e.probes++
	prefix := fmt.Sprintf("probe-%d-", e.probes)
	got := func(msgs []core.AdapterMessage) bool {
		return count(msgs, func(m *core.AdapterMessage) bool { return strings.HasPrefix(string(m.Data), prefix) }) > 0
	}
	ticker := time.NewTicker(probeInterval)
	defer ticker.Stop()
	deadline := time.Now().Add(waitTimeout)
	for k := 0; ; k++ {
		e.publish(pub, core.AdapterMessage{Type: core.AdapterRoom, Room: room, MsgType: 1, Data: fmt.Appendf(nil, "%s%d", prefix, k)})
		if e.nodes[recv].rec.waitUntil(got, ticker.C) {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("adapter %d received no message in room %q within %v after declaring interest", recv, room, waitTimeout)
		}
	}
}

func setInterest(t *testing.T, a core.Adapter, room string, interested bool) {
	t.Helper()
	ra, ok := a.(core.RoomInterestAdapter)
	require.True(t, ok, "adapter does not implement core.RoomInterestAdapter")
	ra.SetRoomInterest(room, interested)
}

// allImplement reports whether is holds for every adapter of e.
func (e *env) allImplement(is func(core.Adapter) bool) bool {
	for _, nd := range e.nodes {
		if !is(nd.a) {
			return false
		}
	}
	return true
}

func isRoomInterest(a core.Adapter) bool { _, ok := a.(core.RoomInterestAdapter); return ok }

// normalize makes empty Data and except lists nil, so messages compare equal
// whatever an encoding does with empty values.
func normalize(msgs []core.AdapterMessage) []core.AdapterMessage {
	out := make([]core.AdapterMessage, len(msgs))
	for i, m := range msgs {
		if len(m.Data) == 0 {
			m.Data = nil
		}
		if len(m.ExceptClientIDs) == 0 {
			m.ExceptClientIDs = nil
		}
		out[i] = m
	}
	return out
}
