package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	wsnats "github.com/wshub/wshub/adapters/nats"
	"github.com/wshub/wshub/core"
)

// natsURL is the shared development and CI broker.
const natsURL = "nats://127.0.0.1:4222"

// browserNode is one chat node of the browser test: a hub on its own NATS
// connection, served by its own HTTP server.
type browserNode struct {
	hub   *core.Hub
	srv   *httptest.Server
	stats *core.DebugMetrics
}

// TestBrowserChatAcrossNodes drives the real page in headless Chromium: two
// pages, each on its own node, the nodes linked through NATS. Both pages
// join one room (the second is refused the first one's nick), each sends
// a message, and each must show both, with their times in the page's time
// zone, marking its user's own. Then one page leaves the room: it shows
// it is in none, and the other page sees its user go.
//
// Set SCREENSHOT_DIR to keep the screenshots (SCREENSHOT_DIR=testdata
// writes examples/chat/testdata/screenshot.png); otherwise they go to a
// temporary directory that the test removes.
func TestBrowserChatAcrossNodes(t *testing.T) {
	nodeA, nodeB, pageA, pageB := twoNodePages(t, findChromium(t))
	join(pageA, t, "ann", "lobby")
	// A nick is unique in a room, on every node: once node A has recorded
	// ann in the store the nodes share, the page on node B may not be ann.
	require.Eventually(t, func() bool {
		st, err := nodeB.hub.PresenceStats(context.Background(), "lobby")
		return err == nil && st.Users == 1
	}, 10*time.Second, 10*time.Millisecond, "node B never saw ann")
	submitJoin(pageB, t, "ann", "lobby")
	waitJS(pageB, t, `logText().includes('nick "ann" is taken in #lobby; choose another')`)
	waitJS(pageB, t, `document.getElementById("status").textContent === "connected" && document.getElementById("text").disabled`)
	require.Zero(t, nodeB.hub.RoomCount("lobby"), "the refused page is in the room")
	join(pageB, t, "bob", "lobby")
	// Each page sees the other join, whichever node it is on.
	waitJS(pageA, t, `logText().includes("bob joined #lobby")`)

	// Room interest reaches the broker asynchronously: make sure each node
	// receives the room's traffic from the other before the real messages.
	awaitRoute(t, nodeA, nodeB, "lobby")
	awaitRoute(t, nodeB, nodeA, "lobby")

	sent := time.Now()
	say(pageA, t, "hello from ann on node A")
	say(pageB, t, "hi from bob on node B")
	for _, page := range []context.Context{pageA, pageB} {
		waitJS(page, t, `saidText().includes("hello from ann on node A") && saidText().includes("hi from bob on node B")`)
	}
	// Each message shows the time the server stamped on it, as the
	// page's local time (browserTZ), HH:MM.
	shown := time.Now()
	for _, page := range []context.Context{pageA, pageB} {
		times, err := chromedp.Run(page, chromedp.Evaluate[[]string](`saidTimes()`))
		require.NoError(t, err)
		require.Len(t, times, 2)
		for _, hhmm := range times {
			assert.Contains(t, clockTimes(sent, shown), hhmm, "times shown %v", times)
		}
	}
	// Each page marks its user's own messages, and only those, so that
	// they look apart.
	waitJS(pageA, t, `JSON.stringify(mine()) === JSON.stringify(["hello from ann on node A"])`)
	waitJS(pageB, t, `JSON.stringify(mine()) === JSON.stringify(["hi from bob on node B"])`)
	for _, page := range []context.Context{pageA, pageB} {
		waitJS(page, t, `(() => {
  const style = (sel) => getComputedStyle(document.querySelector(sel));
  const own = style("#log li.said.mine"), other = style("#log li.said:not(.mine)");
  return own.backgroundColor !== other.backgroundColor && own.borderLeftColor !== other.borderLeftColor;
})()`)
	}
	// The node shown next to each message is the author's.
	waitJS(pageB, t, `[...document.querySelectorAll("#log li.said")].some(li => li.textContent.includes("hello from ann") && li.textContent.includes("node-a"))`)

	// Text that is not UTF-8 would make each browser that receives it fail
	// its connection: the hub refuses to send it, here and to node B, and
	// both pages stay on the connections they have.
	connsA, connsB := nodeA.stats.Stats().TotalConnections, nodeB.stats.Stats().TotalConnections
	require.ErrorIs(t, nodeA.hub.BroadcastToRoom("lobby", []byte("{\"type\":\"said\",\"nick\":\"x\",\"text\":\"\xff\"}")), core.ErrInvalidUTF8)
	nodeA.hub.Broadcast([]byte("\xff\xfe")) // refused and counted
	say(pageB, t, "still connected")
	for _, page := range []context.Context{pageA, pageB} {
		waitJS(page, t, `saidText().includes("still connected")`)
	}
	require.Equal(t, connsA, nodeA.stats.Stats().TotalConnections, "a page on node A reconnected")
	require.Equal(t, connsB, nodeB.stats.Stats().TotalConnections, "a page on node B reconnected")
	require.Equal(t, int64(2), nodeA.stats.Stats().Errors["invalid_utf8_send"])

	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for name, page := range map[string]context.Context{"screenshot.png": pageA, "screenshot-node-b.png": pageB} {
		png, err := chromedp.Run(page, chromedp.CaptureScreenshot())
		require.NoError(t, err)
		path := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(path, png, 0o644))
		t.Logf("screenshot: %s", path)
	}

	// Bob leaves: his page is in no room (its list empty, nothing to
	// send, nothing to rejoin on a reload), node B has him out of the
	// room, and ann's page logs his departure at once and drops him from
	// its list once the linger (testLinger) has passed.
	require.NoError(t, chromedp.Do(pageB, chromedp.Click(chromedp.ID("leave-btn"))))
	waitJS(pageB, t, `document.getElementById("status").textContent === "connected"`)
	waitJS(pageB, t, `logText().includes("bob left #lobby") && online() === "" &&
document.getElementById("text").disabled && document.getElementById("leave-btn").disabled &&
sessionStorage.getItem("chat.joined") === "null"`)
	assert.Zero(t, nodeB.hub.RoomCount("lobby"), "bob's page is still in the room on node B")
	waitJS(pageA, t, `logText().includes("bob left #lobby")`)
	waitJS(pageA, t, `online() === "ann@node-a"`)
	// His nick is free: his page joins again as bob, and messages flow.
	join(pageB, t, "bob", "lobby")
	say(pageB, t, "bob is back")
	waitJS(pageA, t, `saidText().includes("bob is back")`)
	waitJS(pageB, t, `mine().includes("bob is back")`)

	// Close the tabs before the nodes stop, so no page sees its node go
	// away (newBrowser's cleanup then closes the browser).
	require.NoError(t, chromedp.Cancel(pageB))
	require.NoError(t, chromedp.Cancel(pageA))
}

// TestBrowserReconnectIsLogged: when the server closes a page's
// connection (as a draining node does), the page logs the disconnect with
// its code, and once it is back, the node it reconnected to; it rejoins
// its room under its nick (its session makes its old connection no rival)
// and its messages flow again.
func TestBrowserReconnectIsLogged(t *testing.T) {
	chromium := findChromium(t)
	hub, srv := startNodeWith(t, nodeSetup{}, core.WithNodeID("solo"))
	page := newBrowser(t, chromium)
	openPage(page, t, srv.URL)
	require.NoError(t, chromedp.Do(page, chromedp.Evaluate[chromedp.Void](watchConsole)))
	join(page, t, "ann", "lobby")
	waitJS(page, t, `connLines() === ""`) // a first connection is no reconnection

	clients := hub.GetClientsByUserID("ann")
	require.Len(t, clients, 1)
	require.NoError(t, clients[0].CloseWithCode(websocket.CloseGoingAway, "server draining"))
	waitJS(page, t, `/^disconnected \(1001 going away\), reconnecting in \d+\.\d s\|reconnected to node solo$/.test(connLines())`)
	waitJS(page, t, `document.getElementById("status").textContent === "in #lobby as ann"`)
	say(page, t, "after the reconnect")
	waitJS(page, t, `mine().includes("after the reconnect")`)
	assertQuiet(page, t)
	require.NoError(t, chromedp.Cancel(page))
}

// browserTZ is the time zone of the browsers the tests start: one far
// from UTC, with a 45-minute offset, so that a time shown in UTC, or in
// the machine's zone, does not pass for the page's local time. Nepal has
// no daylight saving time.
const browserTZ = "Asia/Kathmandu"

// clockTimes returns the HH:MM that a page in browserTZ may show for a
// time between from and to.
func clockTimes(from, to time.Time) []string {
	zone := time.FixedZone(browserTZ, 5*3600+45*60)
	var out []string
	for m := from.Truncate(time.Minute); !m.After(to); m = m.Add(time.Minute) {
		out = append(out, m.In(zone).Format("15:04"))
	}
	return out
}

// TestBrowserMembersAcrossNodes drives the "Online" list in headless
// Chromium: two pages, each on its own node, the nodes linked through
// NATS, join one room. Each page lists both users with the node each is
// on, updated live; when one page closes, it leaves the other's list once
// the linger (testLinger) has passed. Neither page writes to its console.
func TestBrowserMembersAcrossNodes(t *testing.T) {
	_, _, pageA, pageB := twoNodePages(t, findChromium(t))
	for _, page := range []context.Context{pageA, pageB} {
		require.NoError(t, chromedp.Do(page, chromedp.Evaluate[chromedp.Void](watchConsole)))
	}

	join(pageA, t, "ann", "lobby")
	waitJS(pageA, t, `online() === "ann@node-a"`)
	join(pageB, t, "bob", "lobby")
	// bob's page gets ann in the list it receives on joining, and ann's
	// page hears of bob's arrival on the other node.
	for _, page := range []context.Context{pageA, pageB} {
		waitJS(page, t, `online() === "ann@node-a,bob@node-b"`)
	}
	waitJS(pageA, t, `document.getElementById("members-title").textContent === "Online · 2"`)
	waitJS(pageB, t, `[...document.querySelectorAll("#online li.me")].map(li => li.dataset.user).join() === "bob"`)

	// Closing bob's tab ends his connection to node B: once the linger
	// has passed, node B announces his departure and ann's page drops him.
	assertQuiet(pageB, t)
	require.NoError(t, chromedp.Cancel(pageB))
	waitJS(pageA, t, `online() === "ann@node-a"`)
	assertQuiet(pageA, t)
	require.NoError(t, chromedp.Cancel(pageA))
}

// assertQuiet checks that page wrote nothing to its console since
// watchConsole ran in it.
func assertQuiet(page context.Context, t *testing.T) {
	t.Helper()
	noise, err := chromedp.Run(page, chromedp.Evaluate[[]string](`window.noise`))
	require.NoError(t, err)
	assert.Empty(t, noise, "the page's console")
}

// TestBrowserReloadKeepsMember reloads a page in a room whose linger is
// the app's: its user must never leave the lists of the pages that were
// there, and a page that joins while the reload is under way (when the
// user is lingering, and no arrival will be announced) must list the user
// once the reloaded page is back.
func TestBrowserReloadKeepsMember(t *testing.T) {
	chromium := findChromium(t)
	var gate wsGate
	hub, srv := startNodeWith(t, nodeSetup{wrap: gate.wrap, linger: presenceLinger}, core.WithNodeID("solo"))
	t.Cleanup(gate.open) // before the server closes: it waits for held upgrades
	pageA := newBrowser(t, chromium)
	openPage(pageA, t, srv.URL)
	pageB, cancelB := chromedp.NewContext(pageA)
	defer cancelB()
	openPage(pageB, t, srv.URL)
	pageC, cancelC := chromedp.NewContext(pageA)
	defer cancelC()
	openPage(pageC, t, srv.URL)
	for _, page := range []context.Context{pageB, pageC} {
		require.NoError(t, chromedp.Do(page, chromedp.Evaluate[chromedp.Void](watchConsole)))
	}
	join(pageA, t, "ann", "lobby")
	join(pageC, t, "carl", "lobby")
	waitJS(pageC, t, `online() === "ann@solo,carl@solo"`)
	// Carl's page counts every change of its list that leaves ann out.
	require.NoError(t, chromedp.Do(pageC, chromedp.Evaluate[chromedp.Void](`
window.annMissing = 0;
new MutationObserver(() => { if (!online().includes("ann@")) window.annMissing++; })
  .observe(document.getElementById("online"), { childList: true, subtree: true, characterData: true });
`)))

	// Ann's page reloads and its new connection is held: her old one
	// closes and she lingers (listed, without a connection).
	gate.close()
	require.NoError(t, chromedp.Do(pageA, chromedp.Reload()))
	waitJS(pageC, t, `logText().includes("ann left #lobby")`)
	require.Eventually(t, func() bool {
		st, err := hub.PresenceStats(context.Background(), "lobby")
		return err == nil && st == core.PresenceStats{Clients: 1, Users: 2}
	}, 5*time.Second, 5*time.Millisecond, "ann's connection is still listed")
	// Bob joins meanwhile: the list he receives has ann, lingering.
	join(pageB, t, "bob", "lobby")
	waitJS(pageB, t, `online() === "ann@solo,bob@solo,carl@solo"`)

	// Ann's page comes back within the linger: no arrival is announced
	// (she never left), and every page lists her.
	gate.open()
	require.NoError(t, chromedp.Do(pageA, chromedp.Evaluate[chromedp.Void](helpers)))
	for _, page := range []context.Context{pageA, pageB, pageC} {
		waitJS(page, t, `online() === "ann@solo,bob@solo,carl@solo"`)
	}
	missing, err := chromedp.Run(pageC, chromedp.Evaluate[int](`window.annMissing`))
	require.NoError(t, err)
	assert.Zero(t, missing, "the reload flashed ann out of carl's list")
	assertQuiet(pageB, t)
	assertQuiet(pageC, t)
	for _, page := range []context.Context{pageC, pageB, pageA} {
		require.NoError(t, chromedp.Cancel(page))
	}
}

// TestBrowserReloadRecovers drives the real page through a reload: it
// joins a room and shows messages; it is reloaded while another client
// keeps sending, its WebSocket upgrade held until some messages have gone
// out without it. After the reload the page must show every message once,
// in order: those from before (its saved log), those sent while it was
// away (recovered with the cursor it presents in the WebSocket URL) and
// those sent as it came back (recovered, or live).
func TestBrowserReloadRecovers(t *testing.T) {
	chromium := findChromium(t)
	var gate wsGate
	_, srv := startNodeWith(t, nodeSetup{wrap: gate.wrap})
	t.Cleanup(gate.open) // before the server closes: it waits for held upgrades
	page := newBrowser(t, chromium)
	openPage(page, t, srv.URL)
	join(page, t, "ann", "lobby")

	bob := dialChat(t, srv.URL)
	sendEvent(t, bob, event{Type: "join", Room: "lobby", Nick: "bob"})
	next(t, bob, "joined")
	var want []string
	// say sends n numbered messages from bob and waits until he has them
	// back: then they are in the room's history.
	say := func(n int) {
		for range n {
			want = append(want, fmt.Sprintf("message %d", len(want)+1))
			sendEvent(t, bob, event{Type: "say", Text: want[len(want)-1]})
		}
		for _, text := range want[len(want)-n:] {
			require.Equal(t, text, next(t, bob, "said").Text)
		}
	}
	say(3)
	waitJS(page, t, `saidTexts().length === 3`)

	gate.close()
	require.NoError(t, chromedp.Do(page, chromedp.Reload()))
	next(t, bob, "left") // the page's first connection is gone
	say(3)               // while the page is away
	gate.open()
	say(3) // while it comes back

	require.NoError(t, chromedp.Do(page, chromedp.Evaluate[chromedp.Void](helpers)))
	waitJS(page, t, `document.getElementById("status").textContent === "in #lobby as ann"`)
	waitJS(page, t, fmt.Sprintf(`saidTexts().length >= %d`, len(want)))
	got, err := chromedp.Run(page, chromedp.Evaluate[[]string](`saidTexts()`))
	require.NoError(t, err)
	assert.Equal(t, want, got, "every message once, in order")
	waitJS(page, t, `logText().includes("back in #lobby: caught up on")`)
	hidden, err := chromedp.Run(page, chromedp.Evaluate[bool](`document.getElementById("banner").hidden`))
	require.NoError(t, err)
	assert.True(t, hidden, "no recovery failure banner")

	// Sent after the check, a last message still arrives once.
	say(1)
	waitJS(page, t, fmt.Sprintf(`saidTexts().join("|") === %q`, strings.Join(want, "|")))
	require.NoError(t, chromedp.Cancel(page))
}

// wsGate holds WebSocket upgrades while it is closed, so that a test
// decides when a page comes back. The zero value is open.
type wsGate struct {
	mu   sync.Mutex
	held chan struct{} // closed to release the held upgrades; nil while open
}

func (g *wsGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held == nil {
		g.held = make(chan struct{})
	}
}

func (g *wsGate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.held != nil {
		close(g.held)
		g.held = nil
	}
}

func (g *wsGate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		held := g.held
		g.mu.Unlock()
		if held != nil {
			select {
			case <-held:
			case <-r.Context().Done():
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// newBrowser starts headless Chromium and returns the context of its first
// tab; the browser starts on the tab's first use. Call it after starting
// the nodes: cleanups run last-registered first, so the browser is closed
// before they stop.
// twoNodePages starts two chat nodes linked through NATS and opens a page
// on each, in two tabs of one browser. A prefix of their own keeps the
// nodes apart from anything else on the shared broker, other runs of the
// same test included.
func twoNodePages(t *testing.T, chromium string) (nodeA, nodeB *browserNode, pageA, pageB context.Context) {
	t.Helper()
	requireNATS(t)
	prefix := "wshubtest.chat." + randomHex(t)
	nodeA = startBrowserNode(t, "node-a", prefix)
	nodeB = startBrowserNode(t, "node-b", prefix)
	// The first tab starts the browser on its first use; a child context
	// made after that opens another tab in the same browser (made before,
	// it would start a browser of its own).
	pageA = newBrowser(t, chromium)
	openPage(pageA, t, nodeA.srv.URL)
	pageB, cancelB := chromedp.NewContext(pageA)
	t.Cleanup(cancelB)
	openPage(pageB, t, nodeB.srv.URL)
	return nodeA, nodeB, pageA, pageB
}

func newBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Env("TZ="+browserTZ),
		chromedp.WindowSize(760, 620),
	)
	tab, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc() // waits for the browser process to exit
		cancel()
	})
	return tab
}

// findChromium returns the Chromium binary, or skips the test without one
// (fails it in CI; see missing).
func findChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	missing(t, "no Chromium at /usr/bin/chromium or in PATH (install Debian's chromium; .ci/run does)")
	return ""
}

// requireNATS skips the test when no NATS server answers at natsURL (fails
// it in CI; see missing).
func requireNATS(t *testing.T) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", "127.0.0.1:4222", time.Second)
	if err != nil {
		missing(t, "no NATS at %s (%v); start nats-server or run .ci/run", natsURL, err)
	}
	_ = conn.Close()
}

// missing ends a test that lacks Chromium or NATS: a skip on a developer
// machine, a failure in CI (CI set), where .ci/run installs Chromium and
// starts NATS, so their absence is a broken run that a skip would hide.
func missing(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("browser test cannot run in CI: "+format, args...)
	}
	t.Skipf("browser test skipped: "+format, args...)
}

func randomHex(t *testing.T) string {
	t.Helper()
	var b [6]byte
	_, err := rand.Read(b[:])
	require.NoError(t, err)
	return hex.EncodeToString(b[:])
}

// startBrowserNode runs a chat node whose hub talks to the other nodes
// through its own NATS connection. Cleanup shuts the hub down (which
// closes the adapter), then closes the connection.
func startBrowserNode(t *testing.T, id, prefix string) *browserNode {
	t.Helper()
	nc, err := natsgo.Connect(natsURL, natsgo.Name("wshub-chat-browser-test-"+id), natsgo.Timeout(2*time.Second))
	if err != nil {
		missing(t, "cannot connect to NATS at %s: %v", natsURL, err)
	}
	t.Cleanup(nc.Close) // registered first, so it runs after the hub's cleanup
	dropBrokerState(t, nc, prefix)
	adapter, err := wsnats.New(nc, wsnats.WithSubjectPrefix(prefix))
	require.NoError(t, err)
	stats := core.NewDebugMetrics()
	// No heartbeats, as in TestChatMembersAcrossNodes.
	hub, srv := startNode(t, core.WithAdapter(adapter), core.WithNodeID(id), core.WithMetrics(stats))
	return &browserNode{hub: hub, srv: srv, stats: stats}
}

// dropBrokerState deletes, when the test ends, the JetStream streams in
// which the NATS adapter keeps the history of the rooms under prefix and
// the key-value bucket of their members, so that the shared broker does
// not collect them run after run. Registered before the hub starts, it
// runs after the hub stopped (cleanups run last-registered first) and
// before nc closes.
func dropBrokerState(t *testing.T, nc *natsgo.Conn, prefix string) {
	t.Helper()
	t.Cleanup(func() {
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		names := js.StreamNames(ctx, jetstream.WithStreamListSubject(prefix+".>"))
		var streams []string
		for name := range names.Name() {
			streams = append(streams, name)
		}
		require.NoError(t, names.Err())
		for _, name := range streams {
			if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				t.Errorf("delete stream %s: %v", name, err)
			}
		}
		// The bucket is <PREFIX>_PRESENCE, the prefix upper-cased with its
		// dots turned into underscores (adapters/nats, "Presence"); ours
		// has nothing else to map.
		bucket := strings.ToUpper(strings.ReplaceAll(prefix, ".", "_")) + "_PRESENCE"
		err = js.DeleteKeyValue(ctx, bucket)
		if err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("delete bucket %s: %v", bucket, err)
		}
	})
}

// awaitRoute waits until a room message published by from reaches the
// room's members on to: from sends a probe, which the page ignores, to the
// room (skipping its own clients) until to has written one more message to
// a socket than before. Nothing else is in flight to to's clients then.
func awaitRoute(t *testing.T, from, to *browserNode, room string) {
	t.Helper()
	before := to.stats.Stats().TotalMessagesSent
	probe := []byte(`{"type":"probe"}`)
	require.Eventually(t, func() bool {
		_ = from.hub.BroadcastToRoomExcept(room, probe, from.hub.Clients()...) // nil with an adapter
		return to.stats.Stats().TotalMessagesSent > before
	}, 10*time.Second, 50*time.Millisecond, "room %q traffic from %s never reached %s", room, from.hub.NodeID(), to.hub.NodeID())
}

// helpers defines the page-side functions the waits below use.
const helpers = `
window.logText = () => document.getElementById("log").textContent;
window.saidText = () => [...document.querySelectorAll("#log li.said")].map(li => li.textContent).join("\n");
window.saidTexts = () => [...document.querySelectorAll("#log li.said .text")].map(span => span.textContent);
window.saidTimes = () => [...document.querySelectorAll("#log li.said .time")].map(span => span.textContent);
window.mine = () => [...document.querySelectorAll("#log li.said.mine .text")].map(span => span.textContent);
window.connLines = () => [...document.querySelectorAll("#log li.conn")]
  .map(li => [...li.children].filter(span => span.className !== "time").map(span => span.textContent).join("")).join("|");
window.online = () => [...document.querySelectorAll("#online li")]
  .map(li => li.dataset.user + "@" + li.querySelector(".meta").textContent).join(",");
`

// watchConsole records, from the moment it runs, what the page writes to
// its console and the errors it does not catch, in window.noise.
const watchConsole = `
window.noise = [];
for (const level of ["debug", "log", "info", "warn", "error", "trace", "assert"]) {
  const write = console[level].bind(console);
  console[level] = (...args) => { window.noise.push(level + ": " + args.map(String).join(" ")); write(...args); };
}
window.addEventListener("error", (ev) => window.noise.push("uncaught: " + ev.message));
window.addEventListener("unhandledrejection", (ev) => window.noise.push("unhandled rejection: " + String(ev.reason)));
`

func openPage(page context.Context, t *testing.T, url string) {
	t.Helper()
	require.NoError(t, chromedp.Do(page,
		chromedp.EmulateViewport(720, 480), // the same size for every tab
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.ID("nick")),
		chromedp.Evaluate[chromedp.Void](helpers),
	))
	waitJS(page, t, `document.getElementById("status").textContent === "connected"`)
}

// join joins room as nick on page and waits until the page is in it.
func join(page context.Context, t *testing.T, nick, room string) {
	t.Helper()
	submitJoin(page, t, nick, room)
	require.NoError(t, chromedp.Do(page, chromedp.WaitEnabled(chromedp.ID("text"))))
	waitJS(page, t, fmt.Sprintf(`document.getElementById("status").textContent === %q`, "in #"+room+" as "+nick))
}

// submitJoin fills the join form of page with nick and room and submits
// it.
func submitJoin(page context.Context, t *testing.T, nick, room string) {
	t.Helper()
	require.NoError(t, chromedp.Do(page,
		// Emptied by script: chromedp.Clear drops the value attribute,
		// which empties an input only until someone has typed in it.
		chromedp.Evaluate[chromedp.Void](`document.getElementById("nick").value = document.getElementById("room").value = ""`),
		chromedp.SendKeys(chromedp.ID("nick"), nick),
		chromedp.SendKeys(chromedp.ID("room"), room),
		chromedp.Click(chromedp.ID("join-btn")),
	))
}

func say(page context.Context, t *testing.T, text string) {
	t.Helper()
	require.NoError(t, chromedp.Do(page,
		chromedp.SendKeys(chromedp.ID("text"), text),
		chromedp.Click(chromedp.ID("send-btn")),
	))
}

// waitJS waits until expr is truthy in page, or fails after 10s, showing
// the page's status line and log.
func waitJS(page context.Context, t *testing.T, expr string) {
	t.Helper()
	_, err := chromedp.Run(page, chromedp.Poll[chromedp.Void](expr,
		// An interval, not requestAnimationFrame: a background tab may not
		// paint, but its timers still run.
		chromedp.WithPollingInterval(20*time.Millisecond),
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		state, stateErr := chromedp.Run(page, chromedp.Evaluate[string](
			`"status: " + document.getElementById("status").textContent + "\nlog:\n" +
  [...document.querySelectorAll("#log li")].map(li => li.textContent).join("\n")`))
		require.NoError(t, err, "waiting for %s\n%s%v", expr, state, stateErr)
	}
}
