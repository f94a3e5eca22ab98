package core_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// flakyStore is a memory adapter whose next presence writes or lists fail,
// as many as the test arms.
type flakyStore struct {
	*memory.Adapter
	failSets, failLists atomic.Int32
	sweeps              atomic.Int32 // lists of every room, as sweeps do
}

var errStoreBlip = errors.New("store blip")

func (f *flakyStore) SetPresence(ctx context.Context, room, key string, data []byte, rev uint64) (uint64, error) {
	if f.failSets.Add(-1) >= 0 {
		return 0, errStoreBlip
	}
	f.failSets.Store(0)
	return f.Adapter.SetPresence(ctx, room, key, data, rev)
}

func (f *flakyStore) ListPresence(ctx context.Context, room string) ([]core.PresenceRecord, error) {
	if room == "" {
		f.sweeps.Add(1)
	}
	if f.failLists.Add(-1) >= 0 {
		return nil, errStoreBlip
	}
	f.failLists.Store(0)
	return f.Adapter.ListPresence(ctx, room)
}

// A node goes silent (its link closes, it never says goodbye) and the
// survivor's sweep, which removes its members, fails once: the sweep is
// retried after a short backoff, and the dead node's member leaves within
// seconds, not at the next full refresh (a minute later).
func TestDeadNodeSweepRetried(t *testing.T) {
	for _, tc := range []struct {
		name string
		arm  func(*flakyStore)
	}{
		{"write fails", func(f *flakyStore) { f.failSets.Store(1) }},
		{"list fails", func(f *flakyStore) { f.failLists.Store(1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bus := memory.NewBus()
			var ev wshubtest.PresenceEvents
			store := &flakyStore{Adapter: bus.NewAdapter()}
			survivor := wshubtest.MembersNode(t, "survivor", store, &ev)
			victimAd := bus.NewAdapter()
			victim := wshubtest.MembersNode(t, "victim", victimAd, &ev)
			room := "now-" + core.NewEpoch()
			survivor.DialMember(t, "sam", room)
			vic := victim.DialMember(t, "vic", room)
			survivor.AwaitMember(t, room, vic.Client.ID, true)
			ev.AwaitKinds(t, room, "vic", "join")

			// The first sweep after the start is done: the next one is the
			// eviction's.
			require.Eventually(t, func() bool { return store.sweeps.Load() > 0 }, 5*time.Second, time.Millisecond)
			tc.arm(store)
			require.NoError(t, victimAd.Close()) // silent from now on, its records stay
			start := time.Now()
			ev.AwaitKinds(t, room, "vic", "join", "leave")
			t.Logf("left after %v", time.Since(start))
			assert.Zero(t, store.failSets.Load()+store.failLists.Load(), "the armed failure was not hit")
			survivor.AwaitMember(t, room, vic.Client.ID, false)
			assert.Equal(t, []string{"join"}, ev.Kinds(room, "sam"), "the survivor's own member left")

			// The victim cannot reach the store to remove its members: its
			// shutdown would retry until its deadline.
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_ = victim.Hub.Shutdown(ctx)
		})
	}
}

// silentAdapter is a memory adapter whose node is never heard: its
// publishes are dropped, while its member records reach the shared store.
type silentAdapter struct{ *memory.Adapter }

func (silentAdapter) Publish(context.Context, core.AdapterMessage) error        { return nil }
func (silentAdapter) PublishBatch(context.Context, []core.AdapterMessage) error { return nil }

// A node that no other node has ever heard (it died before its first
// heartbeat went out, or its link was down from its start) is never
// evicted; its members still leave within a few heartbeat intervals of
// being seen in a list, not at the next full refresh (a minute later).
func TestNeverHeardNodeMembersLeave(t *testing.T) {
	bus := memory.NewBus()
	var ev wshubtest.PresenceEvents
	store := &flakyStore{Adapter: bus.NewAdapter()}
	survivor := wshubtest.MembersNode(t, "survivor", store, &ev)
	// The first sweep after the start is done, before the victim's member
	// joins: without a watch on unheard nodes, no sweep would come for a
	// minute.
	require.Eventually(t, func() bool { return store.sweeps.Load() > 0 }, 5*time.Second, time.Millisecond)

	victim := wshubtest.MembersNode(t, "victim", silentAdapter{bus.NewAdapter()}, &ev)
	room := "now-" + core.NewEpoch()
	vic := victim.DialMember(t, "vic", room)
	survivor.AwaitMember(t, room, vic.Client.ID, true) // the survivor reads the list
	start := time.Now()
	ev.AwaitKinds(t, room, "vic", "join", "leave")
	t.Logf("left %v after the survivor listed it", time.Since(start))
	leaves := ev.Of(room, "vic")
	assert.Equal(t, "survivor", leaves[len(leaves)-1].Hub, "the leave fired on the node that swept")
	survivor.AwaitMember(t, room, vic.Client.ID, false)
}
