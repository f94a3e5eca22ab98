package wshubtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// Deadlines of the hub helpers: starting a hub, and its Shutdown when the
// test ends (long enough for a drain on a loaded machine).
const (
	startTimeout    = 5 * time.Second
	shutdownTimeout = 10 * time.Second
)

// HubNode is a hub served over HTTP by an httptest server. The Dial
// methods connect real WebSocket clients to it.
type HubNode struct {
	// Hub is the hub being served.
	Hub *core.Hub
	// Server serves Hub: every path upgrades through Hub.HandleHTTP,
	// except /user?id=U, which makes a client of user U (see DialUser).
	Server *httptest.Server
	// Adapter is Hub's adapter, nil for a hub without one.
	Adapter core.Adapter
}

// StartHub runs a hub built with opts behind an httptest server (see
// [HubNode.Server]): it calls [core.Hub.Run] in a goroutine and waits, up
// to 5 s, until the hub runs; t fails if it does not. When the test ends,
// a cleanup shuts the hub down, which closes its clients with 1001 (going
// away) and its adapter and waits for Run to return, then closes the
// server. t fails if Shutdown returns an error (a drain that outlived
// 10 s). Register cleanups that must run while the hub is up after
// calling StartHub.
func StartHub(t testing.TB, opts ...core.Option) *HubNode {
	t.Helper()
	return startHub(t, true, opts)
}

// StartHubNode runs a hub on adapter ad with node ID id, like StartHub,
// as one node of a multi-node test; opts come after the adapter and node
// ID options. Unlike StartHub, its cleanup ignores an error of Shutdown:
// the fault tests leave nodes whose broker or adapter is gone.
func StartHubNode(t testing.TB, id string, ad core.Adapter, opts ...core.Option) *HubNode {
	t.Helper()
	return startHub(t, false, append([]core.Option{core.WithAdapter(ad), core.WithNodeID(id)}, opts...))
}

func startHub(t testing.TB, strict bool, opts []core.Option) *HubNode {
	t.Helper()
	h := core.NewHub(opts...)
	go h.Run() // Shutdown returns once Run has
	shutdown := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		return h.Shutdown(ctx)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if err := h.WaitRunning(ctx); err != nil {
		_ = shutdown() // stops Run; the start failure is what the test reports
		t.Fatalf("wshubtest: hub did not start: %v", err)
	}
	n := ServeHub(t, h)
	t.Cleanup(func() { // runs before ServeHub's: the server closes after
		if err := shutdown(); err != nil && strict {
			t.Errorf("wshubtest: hub Shutdown: %v", err)
		}
	})
	return n
}

// ServeHub serves a hub the test runs otherwise (an fx app's, say) behind
// an httptest server, as StartHub does, and closes the server when the
// test ends; the hub is left to its owner.
func ServeHub(t testing.TB, h *core.Hub) *HubNode {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/", h.HandleHTTP())
	mux.HandleFunc("/user", func(w http.ResponseWriter, r *http.Request) {
		// UpgradeConnection answers refusals itself.
		_, _ = h.UpgradeConnection(w, r, core.WithUserID(r.URL.Query().Get("id")))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &HubNode{Hub: h, Server: srv, Adapter: h.Adapter()}
}

// URL returns the WebSocket URL ("ws://...") of pathQuery on n's server,
// for a client the test dials itself: pathQuery is a path with an optional
// query, such as "/" or "/user?id=ann".
func (n *HubNode) URL(pathQuery string) string {
	return "ws" + strings.TrimPrefix(n.Server.URL, "http") + pathQuery
}

// Dial connects a client to n with gorilla's default dialer, waits until
// the hub has registered it ([Socket.Client]) and starts recording what
// it receives. The connection is closed when the test ends. t fails, and
// the test stops, when the dial fails or the hub has not registered the
// client within 15 s.
//
// The dial URL carries a query parameter of its own, "wshubtest-dial",
// with a value unique to the dial: Dial finds its client by it in
// [core.Client.Request], so clients that connect at the same moment,
// through Dial or otherwise, are never mistaken for one another. A hub
// that rejects unknown query parameters refuses Dial's clients.
func (n *HubNode) Dial(t testing.TB) *Socket {
	t.Helper()
	return n.dial(t, "/")
}

// DialUser connects a client of user to n, like Dial; the hub's end of it
// has user's ID (core.Client.GetUserID).
func (n *HubNode) DialUser(t testing.TB, user string) *Socket {
	t.Helper()
	return n.dial(t, "/user?"+url.Values{"id": {user}}.Encode())
}

// dialParam is the query parameter by which dial finds its client.
const dialParam = "wshubtest-dial"

// dial connects a client to pathQuery on n, with dialParam added to the
// query, and waits until the hub has registered the client that carries
// it.
func (n *HubNode) dial(t testing.TB, pathQuery string) *Socket {
	t.Helper()
	token := fmt.Sprintf("%016x", rand.Uint64())
	sep := "?"
	if strings.Contains(pathQuery, "?") {
		sep = "&"
	}
	conn, resp, err := websocket.DefaultDialer.Dial(n.URL(pathQuery+sep+dialParam+"="+token), nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	require.NoError(t, err, "dial %s", pathQuery)
	s := newSocket(conn)
	t.Cleanup(s.close)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(waitTimeout)
	for {
		if s.Client = n.findDialed(token); s.Client != nil {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("wshubtest: the hub never registered the client of %s within %v", pathQuery, waitTimeout)
		}
		<-tick.C
	}
}

// findDialed returns the client of n's hub whose upgrade request carries
// token in dialParam, or nil while there is none.
func (n *HubNode) findDialed(token string) *core.Client {
	for _, c := range n.Hub.Clients() {
		if r := c.Request(); r != nil && r.URL != nil && r.URL.Query().Get(dialParam) == token {
			return c
		}
	}
	return nil
}
