package core_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// singleHistoryHub serves a hub without an adapter (its own memory store)
// whose clients join the rooms of their "join" parameters.
func singleHistoryHub(t *testing.T, rec *wshubtest.Recoveries, opts ...core.Option) *wshubtest.HubNode {
	t.Helper()
	h := core.NewHub(append([]core.Option{core.WithRoomOptions(wshubtest.HistoryRooms), core.WithHooks(wshubtest.JoinFromQuery(rec))}, opts...)...)
	go h.Run()
	require.NoError(t, h.WaitRunning(contextFor(t)))
	n := wshubtest.ServeHub(t, h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = h.Shutdown(ctx)
	})
	return n
}

func contextFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// One node, no broker: a client that reconnects with its cursor gets what
// it missed, in order, then the answer, then live messages.
func TestRecoveryWithoutAdapter(t *testing.T) {
	var rec wshubtest.Recoveries
	n := singleHistoryHub(t, &rec)
	room := "hist-one"
	c := n.DialRoom(t, room, "")
	for i := range 3 {
		require.NoError(t, n.Hub.BroadcastToRoom(room, []byte(`{"n":`+strconv.Itoa(i)+`}`)))
	}
	c.AwaitCount(t, room, 3)
	_, cursor, _ := c.Offsets(room)
	require.NoError(t, c.Conn.Close())
	require.Eventually(t, func() bool { return !n.Hub.RoomExists(room) }, 5*time.Second, time.Millisecond)

	// Stored with no member on the node: not ErrRoomNotFound.
	for i := 3; i < 10; i++ {
		require.NoError(t, n.Hub.BroadcastToRoom(room, []byte("plain "+strconv.Itoa(i))))
	}
	back := n.DialRoom(t, room, cursor)
	ans := back.AwaitAnswer(t, room)
	require.True(t, ans.Recovery.Recovered)
	assert.Equal(t, 7, ans.Recovery.Replayed)
	got, _, _ := back.Offsets(room)
	assert.Equal(t, []uint64{4, 5, 6, 7, 8, 9, 10}, got)
	msgs := back.Messages()
	first, ok := wshubtest.ParseEnvelope(msgs[0])
	require.True(t, ok)
	assert.JSONEq(t, `"plain 3"`, string(first.Data), "text that is not JSON travels as a JSON string")

	require.NoError(t, n.Hub.BroadcastToRoom(room, []byte(`{"live":true}`)))
	back.AwaitCount(t, room, 8)
	msgs = back.Messages()
	last, _ := wshubtest.ParseEnvelope(msgs[len(msgs)-1])
	assert.JSONEq(t, `{"live":true}`, string(last.Data), "JSON payloads are embedded as they are")
	r := rec.Await(t, back.Client, room)
	assert.Equal(t, core.Recovery{Recovered: true, Replayed: 7, Since: mustCursor(t, cursor)}, r)
}

func mustCursor(t *testing.T, s string) core.Position {
	t.Helper()
	p, err := core.ParseCursor(s)
	require.NoError(t, err)
	return p
}

// Hub.History reads the store: after a position, with a limit, newest
// first; a room without history says so.
func TestHubHistory(t *testing.T) {
	var rec wshubtest.Recoveries
	n := singleHistoryHub(t, &rec)
	ctx := contextFor(t)
	for i := range 15 {
		require.NoError(t, n.Hub.BroadcastToRoom("small-h", []byte(strconv.Itoa(i))))
	}
	page, err := n.Hub.History(ctx, "small-h", core.HistoryQuery{})
	require.NoError(t, err)
	assert.Equal(t, uint64(6), page.First, "Size 10 keeps 6..15")
	assert.Equal(t, uint64(15), page.Top)
	require.Len(t, page.Messages, 10)
	assert.Equal(t, "5", string(page.Messages[0].Data))

	page, err = n.Hub.History(ctx, "small-h", core.HistoryQuery{After: 12, Limit: 2})
	require.NoError(t, err)
	assert.Equal(t, []uint64{13, 14}, wshubtest.Offsets(page.Messages))
	page, err = n.Hub.History(ctx, "small-h", core.HistoryQuery{Limit: 3, Reverse: true})
	require.NoError(t, err)
	assert.Equal(t, []uint64{15, 14, 13}, wshubtest.Offsets(page.Messages))
	for _, m := range page.Messages {
		assert.Equal(t, page.Epoch, m.Pos.Epoch)
		assert.Equal(t, "small-h", m.Room)
	}

	_, err = n.Hub.History(ctx, "plain", core.HistoryQuery{})
	require.ErrorIs(t, err, core.ErrNoHistory)
	_, err = n.Hub.History(ctx, "", core.HistoryQuery{})
	assert.ErrorIs(t, err, core.ErrEmptyRoomName)
}

// A malformed cursor refuses the upgrade with 400 and a reason.
func TestMalformedCursorRefused(t *testing.T) {
	var rec wshubtest.Recoveries
	n := singleHistoryHub(t, &rec)
	for _, q := range []string{"recover=nocolon", "recover=e:0:room", "recover=e:-1:room", "recover=e:1:", "recover=%C3%A9:1:r", "recover=e:99999999999999999999999:r", "recover=e:1:r&recover=e:2:r"} {
		_, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(n.Server.URL, "http")+"/?"+q, nil)
		require.Error(t, err, q)
		require.NotNil(t, resp, q)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, q)
		_ = resp.Body.Close()
	}
}

// failingStore refuses every append: nothing is delivered, the messages
// count as dropped "store_failed".
type failingStore struct{ *memory.Adapter }

func (f failingStore) AppendHistory(_ context.Context, batch []core.HistoryAppend) {
	for i := range batch {
		batch[i].Err = errors.New("store down")
	}
}

func (f failingStore) ReadHistory(context.Context, string, core.History, core.HistoryQuery) (core.HistoryPage, error) {
	return core.HistoryPage{}, errors.New("store down")
}

func TestStoreFailureDeliversNothing(t *testing.T) {
	bus := memory.NewBus()
	counters := wshubtest.NewCounters()
	var rec wshubtest.Recoveries
	n := wshubtest.HistoryNode(t, "fail", failingStore{bus.NewAdapter()}, &rec, core.WithMetrics(counters))
	other := wshubtest.HistoryNode(t, "fail-other", bus.NewAdapter(), &rec)
	room := "hist-fail"
	member := n.DialRoom(t, room, "")
	watcher := other.DialRoom(t, room, "")
	require.NoError(t, n.Hub.BroadcastToRoom(room, []byte("lost")))
	require.Eventually(t, func() bool { return counters.Traffic().Dropped["store_failed"] == 1 }, 5*time.Second, time.Millisecond)
	// A message after it, through a working node, arrives; the failed one
	// never did.
	require.NoError(t, other.Hub.BroadcastToRoom(room, []byte("ok")))
	watcher.AwaitCount(t, room, 1)
	assert.False(t, member.Has("lost"))
	for _, m := range watcher.Messages() {
		assert.NotContains(t, m, `"lost"`)
	}

	// A recovery with the store down answers "unavailable".
	s := n.DialRoom(t, room, "abc:1")
	ans := s.AwaitAnswer(t, room)
	assert.False(t, ans.Recovery.Recovered)
	assert.Equal(t, core.RecoveryUnavailable, ans.Recovery.Reason)
}

// A node that misses bus messages of a history room fills the gap from
// the store (see wshubtest.RunGapFill).
func TestGapFilledOverMemory(t *testing.T) {
	bus := memory.NewBus()
	wshubtest.RunGapFill(t, func(*testing.T) core.Adapter { return bus.NewAdapter() })
}

// A join that starts a history room on a node whose subscription takes
// effect late still gets every message published after it (see
// wshubtest.RunLateSubscription).
func TestLateSubscriptionOverMemory(t *testing.T) {
	bus := memory.NewBus()
	wshubtest.RunLateSubscription(t, func(*testing.T) core.Adapter { return bus.NewAdapter() })
}

// A history message queued behind a plain one leaves in the same publisher
// batch; its store must not get the plain messages' context, which ends
// with the batch (it did: every such message was dropped as store_failed).
func TestHistoryStoredInMixedBatch(t *testing.T) {
	bus := memory.NewBus()
	counters := wshubtest.NewCounters()
	n := wshubtest.HistoryNode(t, "mixed", bus.NewAdapter(), nil, core.WithMetrics(counters))
	other := wshubtest.HistoryNode(t, "mixed-other", bus.NewAdapter(), nil)
	room := "hist-mixed"
	watcher := other.DialRoom(t, room, "")
	const rounds = 50
	for i := range rounds {
		n.Hub.Broadcast([]byte("plain"))
		require.NoError(t, n.Hub.BroadcastToRoom(room, []byte(strconv.Itoa(i))))
	}
	watcher.AwaitCount(t, room, rounds)
	assert.Zero(t, counters.Traffic().Dropped["store_failed"])
}
