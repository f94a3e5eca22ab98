package memory_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

func BenchmarkDisconnectUserOverMemory(b *testing.B) {
	bus := memory.NewBus()
	wshubtest.BenchDisconnectUser(b, func(testing.TB) core.Adapter { return bus.NewAdapter() })
}

// BenchmarkMembers10kOverMemory: 10,000 members on one node (see
// wshubtest.BenchMembers).
func BenchmarkMembers10kOverMemory(b *testing.B) {
	bus := memory.NewBus()
	wshubtest.BenchMembers(b, 10_000, func(testing.TB) core.Adapter { return bus.NewAdapter() })
}

// A leave that a graceful Shutdown fires, and that the app's hook
// broadcasts to the room, reaches the room's clients on other nodes: the
// hub waits for the presence hooks before it stops its publisher.
func TestLeaveBroadcastAtShutdownOverMemory(t *testing.T) {
	for i := range 5 {
		bus := memory.NewBus()
		room := "now-" + strconv.Itoa(i)
		var ev wshubtest.PresenceEvents
		hooks := ev.Hooks("a", wshubtest.JoinFromQuery(nil))
		var a *wshubtest.HubNode
		hooks.OnPresenceLeave = func(e core.PresenceEvent) {
			time.Sleep(20 * time.Millisecond) // an app's hook that does some work first
			_ = a.Hub.BroadcastToRoom(e.Room, []byte("left:"+e.UserID))
		}
		a = wshubtest.StartHubNode(t, "a"+strconv.Itoa(i), bus.NewAdapter(),
			core.WithRoomOptions(wshubtest.MemberRooms), core.WithHooks(hooks))
		b := wshubtest.MembersNode(t, "b"+strconv.Itoa(i), bus.NewAdapter(), &ev)
		watcher := b.DialMember(t, "watcher", room)
		a.DialMember(t, "leaver", room)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, a.Hub.Shutdown(ctx))
		cancel()
		require.True(t, watcher.Await("left:leaver", 5*time.Second), "round %d: the leave broadcast at shutdown was lost", i)
	}
}

// muted is a memory adapter whose node can fall silent: while mute is
// set, what it publishes is lost, as when its link is down.
type muted struct {
	*memory.Adapter
	mute atomic.Bool
}

func (m *muted) Publish(ctx context.Context, msg core.AdapterMessage) error {
	if m.mute.Load() {
		return nil
	}
	return m.Adapter.Publish(ctx, msg)
}

func (m *muted) PublishBatch(ctx context.Context, msgs []core.AdapterMessage) error {
	if m.mute.Load() {
		return nil
	}
	return m.Adapter.PublishBatch(ctx, msgs)
}

// A node evicted while it was only silent (its link was down) gets its
// members back in the lists once it is heard again: the node that swept
// them asks it to write them again, well before its periodic refresh.
func TestEvictedByMistakeResyncsOverMemory(t *testing.T) {
	bus := memory.NewBus()
	var ev wshubtest.PresenceEvents
	a := wshubtest.MembersNode(t, "a", bus.NewAdapter(), &ev)
	silent := &muted{Adapter: bus.NewAdapter()}
	b := wshubtest.MembersNode(t, "b", silent, &ev)
	room := "now-resync"
	bob := b.DialMember(t, "bob", room)
	a.AwaitMember(t, room, bob.Client.ID, true)
	// a has heard b, so that b's silence is an eviction (for a node never
	// heard, see TestUnheardNodeResyncsOverMemory).
	require.Eventually(t, func() bool { return a.Hub.GlobalClientCount() == 1 },
		10*time.Second, 5*time.Millisecond, "a never heard b")

	silent.mute.Store(true)
	ev.AwaitKinds(t, room, "bob", "join", "leave") // a evicted b and swept bob
	a.AwaitMember(t, room, bob.Client.ID, false)
	silent.mute.Store(false)
	start := time.Now()
	a.AwaitMember(t, room, bob.Client.ID, true)
	t.Logf("listed again %v after b was heard again", time.Since(start))
	ev.AwaitKinds(t, room, "bob", "join", "leave", "join")
}

// A node never heard (its link was down from its start) loses its members
// to the first sweep of a node that takes it for dead; once it is heard,
// it is told to write them again, as an evicted node is.
func TestUnheardNodeResyncsOverMemory(t *testing.T) {
	bus := memory.NewBus()
	var ev wshubtest.PresenceEvents
	silent := &muted{Adapter: bus.NewAdapter()}
	silent.mute.Store(true)
	b := wshubtest.MembersNode(t, "b", silent, &ev)
	room := "now-unheard"
	bob := b.DialMember(t, "bob", room)
	b.AwaitMember(t, room, bob.Client.ID, true)

	// a starts after bob joined, so its first sweep finds bob old enough
	// to belong to a dead node.
	a := wshubtest.MembersNode(t, "a", bus.NewAdapter(), &ev)
	ev.AwaitKinds(t, room, "bob", "join", "leave")
	a.AwaitMember(t, room, bob.Client.ID, false)
	silent.mute.Store(false)
	start := time.Now()
	a.AwaitMember(t, room, bob.Client.ID, true)
	t.Logf("listed again %v after b was heard", time.Since(start))
	ev.AwaitKinds(t, room, "bob", "join", "leave", "join")
}
