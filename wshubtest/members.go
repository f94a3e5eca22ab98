package wshubtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// memberInterval is the heartbeat interval of the member tests' hubs, and
// memberLinger the linger of their "pres-" rooms.
const (
	memberInterval = 200 * time.Millisecond
	memberLinger   = 400 * time.Millisecond
)

// MemberRooms is a core.RoomOptionsFunc, the room options of the kit's
// member hubs ([MembersNode]): rooms named "pres-..." track their members
// with a linger of 400 ms, rooms named "now-..." with none (a leave fires
// at once), others track nothing. Pass it to core.WithRoomOptions to give
// a hub of your own the same rooms, so that it can join a cluster of
// MembersNode hubs or be dialed with [HubNode.DialMember].
func MemberRooms(room string) core.RoomOptions { return memberRooms(room) }

// memberRooms is built once: it never changes.
var memberRooms = core.RoomOptionsByPrefix(map[string]core.RoomOptions{
	"pres-": {Presence: core.MemberPresence{Enabled: true, Linger: memberLinger}},
	"now-":  {Presence: core.MemberPresence{Enabled: true, Linger: -1}},
})

// PresenceEvents records core.Hooks.OnPresenceJoin and OnPresenceLeave
// of several hubs, so that a member test can wait for a user's joins and
// leaves ([PresenceEvents.AwaitKinds]) and check which hub fired each, and
// when. Install it with [PresenceEvents.Hooks] or [MembersNode]. The zero
// value is ready to use; it is safe for concurrent use.
type PresenceEvents struct {
	mu     sync.Mutex
	events []RecordedPresence
}

// RecordedPresence is a presence event and the hub whose hook received
// it, as [PresenceEvents.Of] returns it.
type RecordedPresence struct {
	// Hub is the name given to [PresenceEvents.Hooks].
	Hub string
	// Join is true for OnPresenceJoin, false for OnPresenceLeave.
	Join bool
	core.PresenceEvent
}

// Hooks returns base with OnPresenceJoin and OnPresenceLeave set to hooks
// that record into e under the name hub (replacing base's own). Pass the
// result to core.WithHooks.
func (e *PresenceEvents) Hooks(hub string, base core.Hooks) core.Hooks {
	rec := func(join bool) func(core.PresenceEvent) {
		return func(ev core.PresenceEvent) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.events = append(e.events, RecordedPresence{Hub: hub, Join: join, PresenceEvent: ev})
		}
	}
	base.OnPresenceJoin, base.OnPresenceLeave = rec(true), rec(false)
	return base
}

// Of returns the recorded events of user in room, in the order the hooks
// ran.
func (e *PresenceEvents) Of(room, user string) []RecordedPresence {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []RecordedPresence
	for _, ev := range e.events {
		if ev.Room == room && ev.UserID == user {
			out = append(out, ev)
		}
	}
	return out
}

// logTo writes the recorded events of room to t's log, for a failure's
// diagnosis.
func (e *PresenceEvents) logTo(t testing.TB, room string) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, ev := range e.events {
		if ev.Room == room {
			t.Logf("%s event at %s: join=%v user=%s node=%s", ev.Hub, ev.At.Format("15:04:05.000"), ev.Join, ev.UserID, ev.NodeID)
		}
	}
}

// Kinds returns the kinds ("join"/"leave") of the events of user in room.
func (e *PresenceEvents) Kinds(room, user string) []string {
	var out []string
	for _, ev := range e.Of(room, user) {
		out = append(out, map[bool]string{true: "join", false: "leave"}[ev.Join])
	}
	return out
}

// AwaitKinds waits, up to 15 s, until the kinds of user's events in room
// ([PresenceEvents.Kinds]) are exactly want, such as "join", "leave"; t
// fails, and the test stops, when they are not.
func (e *PresenceEvents) AwaitKinds(t testing.TB, room, user string, want ...string) {
	t.Helper()
	if !assert.Eventually(t, func() bool { return slices.Equal(e.Kinds(room, user), want) },
		waitTimeout, time.Millisecond, "events of %q in %q: want %v", user, room, want) {
		t.Fatalf("events of %q in %q: got %+v", user, room, e.Of(room, user))
	}
}

// MembersNode starts a hub on ad, with node ID id, that tracks members in
// the rooms of [MemberRooms], sends presence heartbeats every 200 ms
// (core.WithPresence), records its presence events into ev under the
// name id, and joins each client to the rooms its upgrade request names
// with "join" ([JoinFromQuery]); opts come after those options. Use it,
// with [HubNode.DialMember], for member tests of your own on the adapter
// under test. It stops when the test ends, as [StartHubNode]'s hub does.
func MembersNode(t testing.TB, id string, ad core.Adapter, ev *PresenceEvents, opts ...core.Option) *HubNode {
	t.Helper()
	base := []core.Option{core.WithRoomOptions(MemberRooms), core.WithPresence(memberInterval),
		core.WithHooks(ev.Hooks(id, JoinFromQuery(nil)))}
	return StartHubNode(t, id, ad, append(base, opts...)...)
}

// DialMember connects a client of user to n that joins room, like
// [HubNode.DialUser], and waits until the join is recorded in the store
// (n's hub must join clients to the rooms their upgrade request names
// with "join", as [MembersNode]'s does, and track members in room).
func (n *HubNode) DialMember(t testing.TB, user, room string) *Socket {
	t.Helper()
	s := n.dial(t, "/user?"+url.Values{"id": {user}, "join": {room}}.Encode())
	require.Eventually(t, func() bool { return s.Client.InRoom(room) }, waitTimeout, time.Millisecond)
	n.AwaitMember(t, room, s.Client.ID, true)
	return s
}

// AwaitMember waits, up to 15 s, until n's view of room's member list
// (core.Hub.Presence) has the client, or, with present false, lacks it; t
// fails, and the test stops, when it does not.
func (n *HubNode) AwaitMember(t testing.TB, room, clientID string, present bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		ids, err := n.memberIDs(room)
		return err == nil && slices.Contains(ids, clientID) == present
	}, waitTimeout, time.Millisecond, "client %s in %q on %s: want %v", clientID, room, n.Hub.NodeID(), present)
}

// MemberIDs returns the client IDs of room's member list as n reads it
// (core.Hub.Presence), in its order; t fails, and the test stops, when the
// read fails or takes over 5 s.
func (n *HubNode) MemberIDs(t testing.TB, room string) []string {
	t.Helper()
	ids, err := n.memberIDs(room)
	require.NoError(t, err)
	return ids
}

func (n *HubNode) memberIDs(room string) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ms, err := n.Hub.Presence(ctx, room)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(ms))
	for _, m := range ms {
		ids = append(ids, m.ClientID)
	}
	return ids, nil
}

// closeSocket closes a client's connection and waits until its hub has
// torn the client down.
func closeSocket(t testing.TB, n *HubNode, s *Socket) {
	t.Helper()
	require.NoError(t, s.Conn.Close())
	require.Eventually(t, func() bool { _, ok := n.Hub.GetClient(s.Client.ID); return !ok },
		waitTimeout, time.Millisecond)
}

// RunMembers checks member presence over a real bus with three hubs and
// real WebSocket clients: member lists converge on every node with the
// nodes, users, join times and info of the members; a user's join fires
// once, with their first connection wherever it is, and their leave once,
// after their last connection left and the linger passed; a reconnect
// within the linger fires nothing; a graceful stop removes its node's
// members at once, firing their leaves once. newAdapter returns a fresh,
// unsubscribed adapter on the bus under test whose store is shared by the
// three and isolated from other tests.
func RunMembers(t *testing.T, newAdapter func(t *testing.T) core.Adapter) {
	var ev PresenceEvents
	var nodes []*HubNode
	for i := range 3 {
		n := MembersNode(t, fmt.Sprintf("mem%d", i), newAdapter(t), &ev)
		WaitHealthy(t, n.Adapter)
		nodes = append(nodes, n)
	}
	room := "pres-" + core.NewEpoch()

	// ann on two nodes, bob on the third.
	ann0 := nodes[0].DialMember(t, "ann", room)
	require.NoError(t, ann0.Client.SetRoomPresenceInfo(room, []byte(`{"name":"Ann"}`)))
	ann1 := nodes[1].DialMember(t, "ann", room)
	bob := nodes[2].DialMember(t, "bob", room)
	ids := []string{ann0.Client.ID, ann1.Client.ID, bob.Client.ID}
	for _, n := range nodes {
		require.Eventually(t, func() bool {
			got, err := n.memberIDs(room)
			slices.Sort(got)
			return err == nil && slices.Equal(got, slices.Sorted(slices.Values(ids)))
		}, waitTimeout, time.Millisecond, "node %s: member list did not converge", n.Hub.NodeID())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	list, err := nodes[2].Hub.Presence(ctx, room)
	require.NoError(t, err)
	byID := map[string]core.PresenceMember{}
	for _, m := range list {
		byID[m.ClientID] = m
	}
	assert.Equal(t, "mem0", byID[ann0.Client.ID].NodeID)
	assert.Equal(t, "ann", byID[ann0.Client.ID].UserID)
	assert.JSONEq(t, `{"name":"Ann"}`, string(byID[ann0.Client.ID].Info), "a membership's info")
	assert.Equal(t, "mem2", byID[bob.Client.ID].NodeID)
	assert.WithinDuration(t, time.Now(), byID[bob.Client.ID].JoinedAt, time.Minute)
	stats, err := nodes[1].Hub.PresenceStats(ctx, room)
	require.NoError(t, err)
	assert.Equal(t, core.PresenceStats{Clients: 3, Users: 2}, stats)

	ev.AwaitKinds(t, room, "ann", "join")
	ev.AwaitKinds(t, room, "bob", "join")
	first := ev.Of(room, "ann")[0]
	assert.Equal(t, ann0.Client.ID, first.ClientID, "the join names the first connection")
	assert.Equal(t, "mem0", first.NodeID)

	// ann closes one connection: still a member, nothing fires. Her other
	// connection leaves too and she reconnects within the linger: nothing.
	closeSocket(t, nodes[0], ann0)
	nodes[2].AwaitMember(t, room, ann0.Client.ID, false)
	closeSocket(t, nodes[1], ann1)
	nodes[2].AwaitMember(t, room, ann1.Client.ID, false)
	ann2 := nodes[2].DialMember(t, "ann", room)
	// bob leaves for good: one leave, after the linger.
	left := time.Now()
	closeSocket(t, nodes[2], bob)
	ev.AwaitKinds(t, room, "bob", "join", "leave")
	leave := ev.Of(room, "bob")[1]
	assert.GreaterOrEqual(t, leave.At.Sub(left), memberLinger-10*time.Millisecond, "the leave fired before the linger ended")
	assert.Equal(t, []string{"join"}, ev.Kinds(room, "ann"), "a reconnect within the linger fired something")

	// A graceful stop removes its node's connections at once; their
	// lingers go on, ended by another node, so that a client that
	// reconnects elsewhere during a deploy fires nothing: carl's leave
	// fires once, after the linger, from a node that is still running.
	carl := nodes[1].DialMember(t, "carl", room)
	ev.AwaitKinds(t, room, "carl", "join")
	stopped := time.Now()
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	require.NoError(t, nodes[1].Hub.Shutdown(sctx))
	assert.NotContains(t, nodes[0].MemberIDs(t, room), carl.Client.ID, "still listed after a graceful stop")
	ev.AwaitKinds(t, room, "carl", "join", "leave")
	carlLeft := ev.Of(room, "carl")[1]
	assert.GreaterOrEqual(t, carlLeft.At.Sub(stopped), memberLinger-10*time.Millisecond, "the stop cut the linger short")
	assert.NotEqual(t, "mem1", carlLeft.Hub, "the stopped node fired the leave")

	// ann's last connection leaves: one leave; nothing else fired twice.
	closeSocket(t, nodes[2], ann2)
	ev.AwaitKinds(t, room, "ann", "join", "leave")

	// A room without linger fires the leave at once; a room that tracks
	// nothing answers ErrNoPresence.
	now := "now-" + core.NewEpoch()
	dan := nodes[0].DialMember(t, "dan", now)
	ev.AwaitKinds(t, now, "dan", "join")
	closeSocket(t, nodes[0], dan)
	ev.AwaitKinds(t, now, "dan", "join", "leave")
	_, err = nodes[0].Hub.Presence(ctx, "plain")
	require.ErrorIs(t, err, core.ErrNoPresence)

	// Many users at once, each with a connection on both running nodes,
	// dialed without waiting for the store: the nodes race on every
	// record, and still each user joins once, every connection is listed,
	// and each leaves once.
	crowd := "now-" + core.NewEpoch()
	const users = 20
	var socks []*Socket
	for u := range users {
		for _, n := range []*HubNode{nodes[0], nodes[2]} {
			socks = append(socks, n.dial(t, fmt.Sprintf("/user?id=crowd%d&join=%s", u, crowd)))
		}
	}
	require.Eventually(t, func() bool {
		s, err := nodes[0].Hub.PresenceStats(ctx, crowd)
		return err == nil && s == core.PresenceStats{Clients: 2 * users, Users: users}
	}, waitTimeout, 5*time.Millisecond, "the crowd is not listed whole")
	for u := range users {
		ev.AwaitKinds(t, crowd, fmt.Sprint("crowd", u), "join")
	}
	for _, s := range socks {
		_ = s.Conn.Close()
	}
	for u := range users {
		ev.AwaitKinds(t, crowd, fmt.Sprint("crowd", u), "join", "leave")
	}
}

// Environment of a child process of the member tests: memberChildEnv
// names the child's node (it serves a hub), dialChildEnv asks for a dialer
// instead ("<url> <count> <room>"), and childPrefixEnv is the bus prefix
// the parent's adapters use.
const (
	memberChildEnv = "WSHUB_MEMBER_CHILD"
	dialChildEnv   = "WSHUB_DIAL_CHILD"
	childPrefixEnv = "WSHUB_CHILD_PREFIX"
)

// MemberChild is the body of the child processes of RunMembersCrash and
// BenchMembers: when the test binary runs as such a child, it does the
// child's work and exits; otherwise it returns at once. Call it first in
// TestMain. newAdapter makes an adapter on the bus under test with the
// given prefix.
func MemberChild(newAdapter func(prefix string) (core.Adapter, error)) {
	if spec := os.Getenv(dialChildEnv); spec != "" {
		dialChild(spec)
	}
	if os.Getenv(memberChildEnv) == "" {
		return
	}
	ad, err := newAdapter(os.Getenv(childPrefixEnv))
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	var ev PresenceEvents
	h := core.NewHub(core.WithAdapter(ad), core.WithNodeID(os.Getenv(memberChildEnv)),
		core.WithRoomOptions(MemberRooms), core.WithPresence(memberInterval),
		core.WithHooks(ev.Hooks("child", JoinFromQuery(nil))))
	go h.Run()
	// Upgrades before the hub runs get 503: the parent dials as soon as it
	// reads the URL, so the URL comes once the hub runs.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	err = h.WaitRunning(ctx)
	cancel()
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	mux := http.NewServeMux()
	mux.Handle("/", h.HandleHTTP())
	mux.HandleFunc("/user", func(w http.ResponseWriter, r *http.Request) {
		_, _ = h.UpgradeConnection(w, r, core.WithUserID(r.URL.Query().Get("id")))
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	fmt.Printf("URL http://%s\n", ln.Addr())
	_ = srv.Serve(ln)
	os.Exit(0)
}

// dialChild connects count clients of users u0, u1, ... to url, joining
// room, prints READY, and holds them until its stdin closes.
func dialChild(spec string) {
	var url, room string
	var count int
	if _, err := fmt.Sscan(spec, &url, &count, &room); err != nil {
		fmt.Println("ERROR", err)
		os.Exit(2)
	}
	conns := make([]*websocket.Conn, 0, count)
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second}
	for i := range count {
		c, resp, err := d.Dial(fmt.Sprintf("ws%s/user?id=u%d&join=%s", strings.TrimPrefix(url, "http"), i, room), nil)
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(2)
		}
		_ = resp.Body.Close()
		conns = append(conns, c)
	}
	fmt.Println("READY")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	for _, c := range conns {
		_ = c.Close()
	}
	os.Exit(0)
}

// startChild runs the test binary as a child with env, and returns the
// lines it prints; the test's cleanup kills it.
func startChild(t testing.TB, env ...string) (*exec.Cmd, *bufio.Scanner, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = in.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd, bufio.NewScanner(out), in
}

// awaitLine reads the child's lines until one starts with prefix, and
// returns the rest of it.
func awaitLine(t testing.TB, lines *bufio.Scanner, prefix string) string {
	t.Helper()
	for lines.Scan() {
		if rest, ok := strings.CutPrefix(lines.Text(), prefix); ok {
			go func() { // keep the pipe drained
				for lines.Scan() {
				}
			}()
			return rest
		}
		require.False(t, strings.HasPrefix(lines.Text(), "ERROR"), lines.Text())
	}
	t.Fatalf("the child exited before printing %q", prefix)
	return ""
}

// RunMembersCrash checks that the members of a node that dies without a
// goodbye leave: a child process (the test binary again, diverted by
// MemberChild in TestMain) serves a hub on the bus under test with users
// in a room; after kill -9 the two hubs of this process evict it within
// three heartbeat intervals (plus one for the sweep), drop its members
// from the list, and fire each user's leave once, from one node. The
// adapters newAdapter returns, and the child's, use prefix.
func RunMembersCrash(t *testing.T, prefix string, newAdapter func(t *testing.T) core.Adapter) {
	var ev PresenceEvents
	var logs [2]LogRecorder
	nodes := []*HubNode{
		MembersNode(t, "crash0", newAdapter(t), &ev, core.WithLogger(&logs[0])),
		MembersNode(t, "crash1", newAdapter(t), &ev, core.WithLogger(&logs[1])),
	}
	for _, n := range nodes {
		WaitHealthy(t, n.Adapter)
	}
	room := "now-" + core.NewEpoch()
	survivor := nodes[0].DialMember(t, "sam", room)
	t.Cleanup(func() { // runs before the hubs stop
		if !t.Failed() {
			return
		}
		for i, n := range nodes {
			logs[i].logTo(t, n.Hub.NodeID())
		}
		ev.logTo(t, room)
		if ps, ok := nodes[0].Adapter.(core.PresenceAdapter); ok {
			recs, err := ps.ListPresence(context.Background(), room)
			t.Logf("records of %s (err %v):", room, err)
			for _, r := range recs {
				t.Logf("  %s rev %d: %q", r.Key, r.Rev, r.Data)
			}
		}
	})

	cmd, lines, _ := startChild(t, memberChildEnv+"=victim-"+core.NewEpoch()[:8], childPrefixEnv+"="+prefix)
	url := awaitLine(t, lines, "URL ")
	users := []string{"vic", "val", "vera"}
	for _, u := range users {
		conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"/user?id="+u+"&join="+room, nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		t.Cleanup(func() { _ = conn.Close() })
	}
	// Every user is listed, on both nodes (their joins fired in the child).
	for _, n := range nodes {
		require.Eventually(t, func() bool {
			s, err := n.Hub.PresenceStats(context.Background(), room)
			return err == nil && s.Users == len(users)+1
		}, waitTimeout, time.Millisecond, "node %s: the child's members are not listed", n.Hub.NodeID())
	}

	// Both have heard the child, so that its death is an eviction (core's
	// TestNeverHeardNodeMembersLeave covers a node that dies unheard).
	listed := time.Now()
	for _, n := range nodes {
		require.Eventually(t, func() bool { return n.Hub.GlobalClientCount() == len(users)+1 },
			waitTimeout, time.Millisecond, "node %s never heard the child", n.Hub.NodeID())
	}
	t.Logf("both nodes heard the child %v after its members were listed", time.Since(listed))

	killed := time.Now()
	t.Logf("killing the child at %s", killed.Format("15:04:05.000"))
	require.NoError(t, cmd.Process.Kill())
	for _, u := range users {
		ev.AwaitKinds(t, room, u, "leave")
	}
	took := time.Since(killed)
	t.Logf("members of a killed node left after %v (heartbeat interval %v)", took, memberInterval)
	assert.Less(t, took, 5*memberInterval+time.Second, "the dead node's members left too late")
	for _, n := range nodes {
		s, err := n.Hub.PresenceStats(context.Background(), room)
		require.NoError(t, err)
		assert.Equal(t, core.PresenceStats{Clients: 1, Users: 1}, s, "node %s still lists the dead node's members", n.Hub.NodeID())
	}
	// Once, whichever node fired it; and the survivor is untouched.
	for _, u := range users {
		require.Never(t, func() bool { return len(ev.Of(room, u)) > 1 }, 3*memberInterval, 10*time.Millisecond,
			"%s's leave fired more than once", u)
	}
	assert.Equal(t, []string{"join"}, ev.Kinds(room, "sam"), "the survivor left")
	assert.Contains(t, nodes[1].MemberIDs(t, room), survivor.Client.ID)
}
