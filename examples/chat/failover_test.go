package main

import (
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// balancer stands for the load balancer in front of the nodes: a TCP
// proxy that connects each new connection to the node it points at, or
// refuses it while it points at none. kill cuts every connection it
// carries, as the death of their node would.
type balancer struct {
	ln net.Listener
	wg sync.WaitGroup

	mu     sync.Mutex
	target string // host:port of the node, "" for none
	conns  map[net.Conn]struct{}
}

func newBalancer(t *testing.T) *balancer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	b := &balancer{ln: ln, conns: map[net.Conn]struct{}{}}
	b.wg.Add(1)
	go b.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		b.kill()
		b.wg.Wait()
	})
	return b
}

func (b *balancer) url() string { return "http://" + b.ln.Addr().String() }

func (b *balancer) point(to *httptest.Server) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.target = ""
	if to != nil {
		b.target = strings.TrimPrefix(to.URL, "http://")
	}
}

// kill closes every connection the balancer carries, both ways.
func (b *balancer) kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for c := range b.conns {
		_ = c.Close()
	}
}

func (b *balancer) accept() {
	defer b.wg.Done()
	for {
		in, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		target := b.target
		b.mu.Unlock()
		if target == "" {
			_ = in.Close()
			continue
		}
		out, err := net.Dial("tcp", target)
		if err != nil {
			_ = in.Close()
			continue
		}
		b.mu.Lock()
		b.conns[in], b.conns[out] = struct{}{}, struct{}{}
		b.mu.Unlock()
		b.wg.Add(2)
		go b.pipe(out, in)
		go b.pipe(in, out)
	}
}

// pipe copies from src to dst until either ends, then closes both.
func (b *balancer) pipe(dst, src net.Conn) {
	defer b.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
	b.mu.Lock()
	delete(b.conns, dst)
	delete(b.conns, src)
	b.mu.Unlock()
}

// TestBrowserFailsOverToOtherNode: the page, behind a load balancer, is on
// node A when node A dies (its connections cut, no close frame). The
// page, through the client package, shows that it is reconnecting,
// connects to node B, says so, and shows the messages sent while it was
// away, each once and in order, recovered from the history the nodes
// share through NATS.
func TestBrowserFailsOverToOtherNode(t *testing.T) {
	chromium := findChromium(t)
	requireNATS(t)
	prefix := "wshubtest.chat." + randomHex(t)
	nodeA := startBrowserNode(t, "node-a", prefix)
	nodeB := startBrowserNode(t, "node-b", prefix)
	lb := newBalancer(t)
	lb.point(nodeA.srv)

	page := newBrowser(t, chromium)
	openPage(page, t, lb.url())
	require.NoError(t, chromedp.Do(page, chromedp.Evaluate[chromedp.Void](watchConsole)))
	join(page, t, "ann", "lobby")
	require.Equal(t, 1, nodeA.hub.ClientCount(), "the page is on node A")

	bob := dialChat(t, nodeB.srv.URL)
	sendEvent(t, bob, event{Type: "join", Room: "lobby", Nick: "bob"})
	next(t, bob, "joined")
	bobSays := func(text string) {
		sendEvent(t, bob, event{Type: "say", Text: text})
		require.Equal(t, text, next(t, bob, "said").Text) // stored, and back
	}
	bobSays("before")
	waitJS(page, t, `saidTexts().join("|") === "before"`)

	// Node A dies; the balancer has no node for a moment.
	lb.point(nil)
	lb.kill()
	waitJS(page, t, `document.getElementById("status").textContent.includes("reconnecting")`)
	waitJS(page, t, `/^disconnected \(1006 abnormal closure\), reconnecting in \d+\.\d s$/.test(connLines())`)
	bobSays("missed 1")
	bobSays("missed 2")

	lb.point(nodeB.srv)
	waitJS(page, t, `connLines().endsWith("|reconnected to node node-b")`)
	waitJS(page, t, `document.getElementById("status").textContent === "in #lobby as ann"`)
	waitJS(page, t, `saidTexts().join("|") === "before|missed 1|missed 2"`)
	// The replay holds node A's "ann left" too.
	waitJS(page, t, `/back in #lobby: caught up on [0-9]+ messages/.test(logText())`)
	hidden, err := chromedp.Run(page, chromedp.Evaluate[bool](`document.getElementById("banner").hidden`))
	require.NoError(t, err)
	assert.True(t, hidden, "no recovery failure banner")
	assert.Equal(t, 2, nodeB.hub.ClientCount(), "the page is on node B, beside bob")

	// And it talks from there.
	say(page, t, "ann on node B")
	assert.Equal(t, "ann on node B", next(t, bob, "said").Text)
	assertQuiet(page, t)
	require.NoError(t, chromedp.Cancel(page))
}
