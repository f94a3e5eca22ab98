package wshubtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// HistoryRooms is a core.RoomOptionsFunc, the room options of the kit's
// history hubs ([HistoryNode]): rooms named "hist-..." keep 1,000
// messages, rooms named "small-..." keep 10 (both for an hour), others
// keep none. Pass it to core.WithRoomOptions to give a hub of your own
// the same rooms, so that it can join a cluster of HistoryNode hubs or
// be dialed with [HubNode.DialRoom].
func HistoryRooms(room string) core.RoomOptions { return historyRooms(room) }

// historyRooms is built once: it never changes.
var historyRooms = core.RoomOptionsByPrefix(map[string]core.RoomOptions{
	"hist-":  {History: core.History{Size: 1000, TTL: time.Hour}},
	"small-": {History: core.History{Size: 10, TTL: time.Hour}},
})

// Envelope is a frame of a history room, written by core.JSONFramer, as a
// client reads it: a message (Cursor and Data set) or a recovery answer
// (Recovery set). A test of history rooms decodes what its clients
// received with [ParseEnvelope]; [Socket.Offsets] and
// [Socket.AwaitAnswer] do it for a room.
type Envelope struct {
	// Room is the room of the frame, never "".
	Room string `json:"room"`
	// Cursor is the message's position, "epoch:offset" (core.ParseCursor
	// reads it); "" in a recovery answer.
	Cursor string `json:"cursor"`
	// Data is the payload: itself when it is valid JSON, else a JSON
	// string.
	Data json.RawMessage `json:"data"`
	// Recovery is the answer to a client that joined with a cursor, nil
	// in a message.
	Recovery *RecoveryAnswer `json:"recovery"`
}

// RecoveryAnswer is the recovery answer of an [Envelope], core.Recovery
// as a client reads it.
type RecoveryAnswer struct {
	// Recovered is true when the client received every message after its
	// cursor.
	Recovered bool `json:"recovered"`
	// Replayed is how many stored messages it received before the live
	// ones.
	Replayed int `json:"replayed"`
	// Since is the cursor the client presented, "" when it had none.
	Since string `json:"since"`
	// Reason says why recovery failed, one of the core.Recovery*
	// constants, "" when it did not.
	Reason string `json:"reason"`
}

// ParseEnvelope decodes s, a text frame a client of a history room
// received (see [Socket.Messages]); ok is false for anything else, such
// as a message of a room without history or a frame another framer
// wrote.
func ParseEnvelope(s string) (Envelope, bool) {
	var e Envelope
	if json.Unmarshal([]byte(s), &e) != nil || e.Room == "" {
		return Envelope{}, false
	}
	return e, true
}

// Recoveries records a hub's core.Hooks.OnRecovery calls, so that a test
// can wait for the recovery of a client's room ([Recoveries.Await]) and
// check what the hub reported. Set [Recoveries.Hook] as OnRecovery, or
// pass the Recoveries to [JoinFromQuery] or [HistoryNode]. The zero value
// is ready to use; it is safe for concurrent use.
type Recoveries struct {
	mu  sync.Mutex
	got map[string]core.Recovery // by client ID + room
}

// Hook is the core.Hooks.OnRecovery hook that records into r; the last
// recovery of a client's room is kept.
func (r *Recoveries) Hook(c *core.Client, room string, rec core.Recovery) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.got == nil {
		r.got = make(map[string]core.Recovery)
	}
	r.got[c.ID+"/"+room] = rec
}

// Await waits, up to 15 s, until r has recorded the recovery of room by
// c, and returns it; t fails, and the test stops, when none came.
func (r *Recoveries) Await(t testing.TB, c *core.Client, room string) core.Recovery {
	t.Helper()
	var rec core.Recovery
	require.Eventually(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		var ok bool
		rec, ok = r.got[c.ID+"/"+room]
		return ok
	}, waitTimeout, time.Millisecond, "no OnRecovery for room %q", room)
	return rec
}

// JoinFromQuery returns hooks that join each client to the rooms named by
// the "join" query parameters of its upgrade request, which
// [HubNode.DialRoom] and [HubNode.DialMember] send (recovering from its
// core.RecoverParam cursors) and, when rec is not nil, record OnRecovery
// in rec. Pass them to core.WithHooks for a hub of your own that the kit's
// Dial helpers should join to rooms; [PresenceEvents.Hooks] merges
// presence hooks into them.
func JoinFromQuery(rec *Recoveries) core.Hooks {
	h := core.Hooks{AfterConnect: func(c *core.Client) {
		for _, room := range c.Request().URL.Query()["join"] {
			_ = c.Hub().JoinRoom(c, room)
		}
	}}
	if rec != nil {
		h.OnRecovery = rec.Hook
	}
	return h
}

// HistoryNode starts a hub on ad, with node ID id, whose "hist-" and
// "small-" rooms keep history ([HistoryRooms]), with the hooks of
// JoinFromQuery(rec) (rec may be nil); opts come after those options. Use
// it, with [HubNode.DialRoom], for history tests of your own on the
// adapter under test. It stops when the test ends, as [StartHubNode]'s
// hub does.
func HistoryNode(t testing.TB, id string, ad core.Adapter, rec *Recoveries, opts ...core.Option) *HubNode {
	t.Helper()
	base := []core.Option{core.WithRoomOptions(HistoryRooms), core.WithHooks(JoinFromQuery(rec))}
	return StartHubNode(t, id, ad, append(base, opts...)...)
}

// DialRoom connects a client to n, like [HubNode.Dial], that joins room,
// recovering from cursor (as a client's last Envelope.Cursor) when it is
// not "", and waits until the client is in room. n's hub must join
// clients to the rooms their upgrade request names with "join", as
// [HistoryNode]'s does ([JoinFromQuery]).
func (n *HubNode) DialRoom(t testing.TB, room, cursor string) *Socket {
	t.Helper()
	q := url.Values{"join": {room}}
	if cursor != "" {
		q.Set(core.RecoverParam, cursor+":"+room)
	}
	s := n.dial(t, "/?"+q.Encode())
	require.Eventually(t, func() bool { return s.Client.InRoom(room) }, waitTimeout, time.Millisecond)
	return s
}

// Offsets returns the offsets of room's messages the socket received, in
// order, the cursor of the last one ("" before any), and the recovery
// answers for room, in order. Frames that [ParseEnvelope] does not read
// are left out.
func (s *Socket) Offsets(room string) (offsets []uint64, last string, answers []Envelope) {
	for _, m := range s.Messages() {
		e, ok := ParseEnvelope(m)
		if !ok || e.Room != room {
			continue
		}
		if e.Recovery != nil {
			answers = append(answers, e)
			continue
		}
		p, err := core.ParseCursor(e.Cursor)
		if err != nil {
			continue
		}
		offsets = append(offsets, p.Offset)
		last = e.Cursor
	}
	return offsets, last, answers
}

// AwaitCount waits, up to 15 s, until the socket holds at least n
// messages of room (see [Socket.Offsets]); t fails, and the test stops,
// when it does not.
func (s *Socket) AwaitCount(t testing.TB, room string, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		got, _, _ := s.Offsets(room)
		return len(got) >= n
	}, waitTimeout, time.Millisecond, "fewer than %d messages of %q", n, room)
}

// AwaitAnswer waits, up to 15 s, for the socket's first recovery answer
// for room and returns it; t fails, and the test stops, when none came.
func (s *Socket) AwaitAnswer(t testing.TB, room string) Envelope {
	t.Helper()
	var ans []Envelope
	require.Eventually(t, func() bool {
		_, _, ans = s.Offsets(room)
		return len(ans) > 0
	}, waitTimeout, time.Millisecond, "no recovery answer for %q", room)
	return ans[0]
}

func contiguous(from, n uint64) []uint64 {
	out := make([]uint64, 0, n)
	for i := range n {
		out = append(out, from+i)
	}
	return out
}

// RunRecovery checks resumable rooms with three hubs on the bus under test
// and real WebSocket clients: a client that disconnects while messages are
// published from every node, then reconnects to another node with its last
// cursor, receives exactly the messages it missed, in order, then its
// recovery answer, then live messages; cursors of another epoch, older than
// what the store keeps, or ahead of the stream are refused, to the client
// and to Hooks.OnRecovery. newAdapter returns a fresh, unsubscribed adapter
// on the bus under test whose store is shared by the three.
func RunRecovery(t *testing.T, newAdapter func(t *testing.T) core.Adapter) {
	var rec Recoveries
	var nodes []*HubNode
	for i := range 3 {
		n := HistoryNode(t, fmt.Sprintf("rec%d", i), newAdapter(t), &rec)
		WaitHealthy(t, n.Adapter)
		nodes = append(nodes, n)
	}
	room := "hist-" + core.NewEpoch()
	watcher := nodes[2].DialRoom(t, room, "")
	c := nodes[0].DialRoom(t, room, "")

	publish := func(from, n int) {
		for i := range n {
			node := nodes[(from+i)%3]
			require.NoError(t, node.Hub.BroadcastToRoom(room, []byte(strconv.Itoa(i))))
		}
	}
	publish(1, 5)
	c.AwaitCount(t, room, 5)
	first, cursor, _ := c.Offsets(room)
	require.Equal(t, contiguous(1, 5), first, "the first messages, in order")
	require.NoError(t, c.Conn.Close())

	const missed = 30
	publish(0, missed)
	watcher.AwaitCount(t, room, 5+missed)

	back := nodes[2].DialRoom(t, room, cursor)
	ans := back.AwaitAnswer(t, room)
	got, _, _ := back.Offsets(room)
	require.Equal(t, contiguous(6, missed), got, "exactly the missed messages, in order, before the answer")
	assert.True(t, ans.Recovery.Recovered)
	assert.Equal(t, missed, ans.Recovery.Replayed)
	r := rec.Await(t, back.Client, room)
	assert.True(t, r.Recovered)
	assert.Equal(t, missed, r.Replayed)

	publish(2, 5)
	back.AwaitCount(t, room, missed+5)
	got, _, _ = back.Offsets(room)
	assert.Equal(t, contiguous(6, missed+5), got, "then the live ones")
	watcher.AwaitCount(t, room, 5+missed+5)
	watched, _, _ := watcher.Offsets(room)
	assert.Equal(t, contiguous(1, 5+missed+5), watched, "a member that stayed got everything once, in order")

	t.Run("refused", func(t *testing.T) {
		small := "small-" + core.NewEpoch()
		keep := nodes[1].DialRoom(t, small, "")
		for i := range 30 {
			require.NoError(t, nodes[i%3].Hub.BroadcastToRoom(small, []byte("s"+strconv.Itoa(i))))
		}
		keep.AwaitCount(t, small, 30)
		_, last, _ := keep.Offsets(small)
		p, err := core.ParseCursor(last)
		require.NoError(t, err)
		for _, tc := range []struct {
			name, cursor, reason string
		}{
			{"another epoch", "0badc0de:3", core.RecoveryEpoch},
			{"older than kept", p.Epoch + ":2", core.RecoveryExpired},
			{"ahead of the stream", p.Epoch + ":" + strconv.FormatUint(p.Offset+100, 10), core.RecoveryAhead},
		} {
			s := nodes[0].DialRoom(t, small, tc.cursor)
			ans := s.AwaitAnswer(t, small)
			assert.False(t, ans.Recovery.Recovered, tc.name)
			assert.Equal(t, tc.reason, ans.Recovery.Reason, tc.name)
			got, _, _ := s.Offsets(small)
			assert.Empty(t, got, "%s: nothing replayed", tc.name)
			r := rec.Await(t, s.Client, small)
			assert.False(t, r.Recovered, tc.name)
			assert.Equal(t, tc.reason, r.Reason, tc.name)
		}
		// Up to date: recovered with nothing to replay.
		s := nodes[2].DialRoom(t, small, last)
		ans := s.AwaitAnswer(t, small)
		assert.True(t, ans.Recovery.Recovered)
		assert.Zero(t, ans.Recovery.Replayed)
	})
}

// RunRecoveryRace drives the race between replay and live traffic: two
// nodes publish to a history room without pause while clients reconnect to
// a third node from cursors at different depths. Every client must receive
// each offset after its cursor exactly once and in order, through the
// switch from replay to live, whatever the interleaving.
func RunRecoveryRace(t *testing.T, clients int, newAdapter func(t *testing.T) core.Adapter) {
	var rec Recoveries
	var nodes []*HubNode
	// Queues deep enough that the test's own readers, slow under -race,
	// never make the hub drop (the drop policy is not under test here).
	cfg := core.DefaultConfig()
	cfg.SendChannelSize = 8192
	cfg.MaxQueuedBytes = 64 << 20
	for i := range 3 {
		n := HistoryNode(t, fmt.Sprintf("race%d", i), newAdapter(t), &rec, core.WithConfig(cfg))
		WaitHealthy(t, n.Adapter)
		nodes = append(nodes, n)
	}
	room := "hist-" + core.NewEpoch()
	watcher := nodes[2].DialRoom(t, room, "")
	for i := range 20 {
		require.NoError(t, nodes[i%2].Hub.BroadcastToRoom(room, []byte("pre"+strconv.Itoa(i))))
	}
	watcher.AwaitCount(t, room, 20)
	_, last, _ := watcher.Offsets(room)
	top, err := core.ParseCursor(last)
	require.NoError(t, err)

	ctx, stop := context.WithCancel(context.Background())
	var pubs sync.WaitGroup
	for p := range 2 {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			// At most 400 each, so that the room (Size 1000) still keeps
			// every cursor's next message; paced, so that the publish queue
			// never drops.
			for i := 0; ctx.Err() == nil && i < 400; i++ {
				_ = nodes[p].Hub.BroadcastToRoom(room, []byte(fmt.Sprintf("p%d-%d", p, i)))
				time.Sleep(time.Millisecond)
			}
		}()
	}
	type joined struct {
		s    *Socket
		from uint64
	}
	var js []joined
	for i := range clients {
		from := top.Offset - uint64(i%20) // cursors 0..19 behind the top
		s := nodes[2].DialRoom(t, room, fmt.Sprintf("%s:%d", top.Epoch, from))
		js = append(js, joined{s, from})
	}
	for _, j := range js {
		ans := j.s.AwaitAnswer(t, room)
		require.True(t, ans.Recovery.Recovered, "recovery from %d: %+v", j.from, *ans.Recovery)
	}
	stop()
	pubs.Wait()
	// Everything stored reaches the watcher (a publish may have been
	// dropped before the store, under the publish queue's rules); then
	// each client must have the same tail.
	require.Eventually(t, func() bool {
		page, err := nodes[0].Hub.History(context.Background(), room, core.HistoryQuery{Limit: 1, Reverse: true})
		if err != nil {
			return false
		}
		got, _, _ := watcher.Offsets(room)
		return len(got) > 0 && got[len(got)-1] == page.Top
	}, waitTimeout, 5*time.Millisecond)
	all, _, _ := watcher.Offsets(room)
	require.Equal(t, contiguous(1, uint64(len(all))), all, "the watcher: every offset once, in order")
	final := all[len(all)-1]
	for _, j := range js {
		j.s.AwaitCount(t, room, int(final-j.from))
		got, _, _ := j.s.Offsets(room)
		// Messages queued before the publishers stopped may still be
		// arriving: each client holds a contiguous run from its cursor to
		// at least what the watcher had.
		require.Equal(t, contiguous(j.from+1, uint64(len(got))), got, "client from %d: each offset once, in order", j.from)
	}
}

// RunRecoveryAcrossRestart checks what clients are told when the broker
// that holds the history restarts: two hubs, a client that saw the first
// messages leaves, the broker is killed and started again, more messages
// are published (retried until the link is back), and the client
// reconnects with its old cursor. kept says whether the broker keeps its
// data across the restart (JetStream with file storage): then the client
// recovers the messages after its cursor; otherwise (Redis started empty)
// the stream has a new epoch, and the client's answer and
// Hooks.OnRecovery say "epoch" while a member that stayed receives the new
// epoch's messages in order.
func RunRecoveryAcrossRestart(t *testing.T, broker Broker, kept bool, newAdapter func(t *testing.T) core.Adapter) {
	var rec Recoveries
	a := HistoryNode(t, "restart-a", newAdapter(t), &rec)
	b := HistoryNode(t, "restart-b", newAdapter(t), &rec)
	WaitHealthy(t, a.Adapter)
	WaitHealthy(t, b.Adapter)
	room := "hist-" + core.NewEpoch()
	stay := b.DialRoom(t, room, "")
	c := a.DialRoom(t, room, "")
	for i := range 5 {
		require.NoError(t, a.Hub.BroadcastToRoom(room, []byte("before"+strconv.Itoa(i))))
	}
	c.AwaitCount(t, room, 5)
	stay.AwaitCount(t, room, 5)
	_, cursor, _ := c.Offsets(room)
	require.NoError(t, c.Conn.Close())

	broker.Kill(t)
	broker.Start(t)
	WaitHealthy(t, a.Adapter)
	WaitHealthy(t, b.Adapter)
	// Published until the stayer has three more: the first tries may fall
	// in the reconnect.
	sent := 0
	require.Eventually(t, func() bool {
		_ = a.Hub.BroadcastToRoom(room, []byte("after"+strconv.Itoa(sent)))
		sent++
		got, _, _ := stay.Offsets(room)
		return len(got) >= 8
	}, waitTimeout, 50*time.Millisecond, "no delivery after the restart")
	got, last, _ := stay.Offsets(room)
	after, err := core.ParseCursor(last)
	require.NoError(t, err)
	before, err := core.ParseCursor(cursor)
	require.NoError(t, err)

	back := b.DialRoom(t, room, cursor)
	ans := back.AwaitAnswer(t, room)
	r := rec.Await(t, back.Client, room)
	if kept {
		assert.Equal(t, before.Epoch, after.Epoch, "the stream survived the restart")
		assert.Equal(t, contiguous(1, uint64(len(got))), got, "the member that stayed: every offset once, in order")
		assert.True(t, ans.Recovery.Recovered, "%+v", *ans.Recovery)
		assert.True(t, r.Recovered)
		replayed, _, _ := back.Offsets(room)
		assert.Equal(t, contiguous(6, uint64(len(got)-5)), replayed[:min(len(replayed), len(got)-5)])
		return
	}
	assert.NotEqual(t, before.Epoch, after.Epoch, "a broker started empty starts a new epoch")
	assert.Equal(t, contiguous(1, 5), got[:5])
	assert.Equal(t, uint64(1), got[5], "the new epoch counts from 1")
	assert.False(t, ans.Recovery.Recovered)
	assert.Equal(t, core.RecoveryEpoch, ans.Recovery.Reason)
	assert.Equal(t, core.RecoveryEpoch, r.Reason)
}

// Offsets returns the offsets of msgs' positions, in order: compare a
// history page (core.HistoryPage.Messages) or what an adapter delivered
// with the offsets a test expects, such as [Span]'s.
func Offsets(msgs []core.AdapterMessage) []uint64 {
	var out []uint64
	for _, m := range msgs {
		out = append(out, m.Pos.Offset)
	}
	return out
}

// Span returns the offsets from..to, both included, counting down when
// from > to: the offsets a test expects of a history page or a
// delivery, to compare with [Offsets]' or [Socket.Offsets]'.
func Span(from, to uint64) []uint64 {
	var out []uint64
	for o := from; ; {
		out = append(out, o)
		if o == to {
			return out
		}
		if from < to {
			o++
		} else {
			o--
		}
	}
}
