package wshubtest

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// RestartSpec sizes a run of RunBrokerRestarts. DefaultRestartSpec,
// FullRestartSpec and RestartSpecFromEnv return ready ones. Every field
// must be positive.
type RestartSpec struct {
	Cycles         int           // kill/restart cycles
	ClientsPerNode int           // WebSocket clients on each of the two nodes
	Rate           int           // broadcasts per second sent by node A
	Outage         time.Duration // how long the broker stays dead per cycle
	Steady         time.Duration // how long it runs between cycles
}

// Bounds RunBrokerRestarts holds the nodes to.
const (
	// resumeBound: cross-node delivery resumes within this time of the
	// broker's return.
	resumeBound = time.Second
	// staleBound: no message reaches a client of another node later than
	// this after it was sent; in particular nothing sent during an outage is
	// replayed after it. It is the hub's publish delay bound plus half a
	// second for the broker, the receiving node and the client.
	staleBound = core.DefaultMaxPublishDelay + 500*time.Millisecond
	// localGapBound: the longest a client of the sending node may go without
	// a message while the sender broadcasts every few milliseconds.
	localGapBound = time.Second
)

// CycleFigures are one kill/restart cycle of RunBrokerRestarts, from the
// kill to the next kill (or the end of the run), as the test log shows
// them: for a report of your adapter's behaviour through outages.
type CycleFigures struct {
	// Sent is how many messages node A broadcast; MissingAtClient how many
	// of them never reached node B's probe client.
	Sent, MissingAtClient int64
	// DroppedAtPublisher and LostBetween are what the hubs counted: A's
	// drops before the broker, B's gaps in A's stream.
	DroppedAtPublisher, LostBetween int64
	// Resume is how long after the broker's return the first message
	// reached B; MaxAge the oldest message B's probe client received;
	// LocalGap the longest A's probe client went without a message.
	Resume, MaxAge, LocalGap time.Duration
	// ClientDropsAtB are the messages dropped at B's client queues;
	// PublishErrorsAtNode A's failed publish calls.
	ClientDropsAtB, PublishErrorsAtNode int64
}

// String formats the figures on one line, for the test log.
func (f CycleFigures) String() string {
	return fmt.Sprintf("sent %d, missing at B's client %d (dropped at A %d, counted lost at B %d), "+
		"resumed after %v, oldest at B %v, longest local gap at A %v, client drops at B %d, publish errors at A %d",
		f.Sent, f.MissingAtClient, f.DroppedAtPublisher, f.LostBetween,
		f.Resume.Round(time.Millisecond), f.MaxAge.Round(time.Millisecond), f.LocalGap.Round(time.Millisecond),
		f.ClientDropsAtB, f.PublishErrorsAtNode)
}

// RunBrokerRestarts runs two hubs over a broker that is killed and started
// again spec.Cycles times while node A broadcasts spec.Rate messages a
// second to spec.ClientsPerNode clients on each node. It checks, and logs
// per cycle, that local delivery on A never stops for more than 1 s; that
// cross-node delivery resumes within 1 s of the broker's return; that no
// client of B gets a message older than the hub's publish delay bound
// (core.DefaultMaxPublishDelay) plus 500 ms, so nothing from an outage is
// replayed after it; and that the counters add up: A's sends equal its
// published plus dropped messages, A's published messages equal what B
// received plus what B counted lost (less duplicates and reordered ones),
// and B's clients got every message B received, less the drops counted at
// their queues. newAdapter must return adapters that reconnect by
// themselves. It returns the figures per cycle.
func RunBrokerRestarts(t *testing.T, spec RestartSpec, broker Broker, newAdapter func(t *testing.T) core.Adapter) []CycleFigures {
	ca, cb := NewCounters(), NewCounters()
	a := StartHubNode(t, "restart-a", newAdapter(t), core.WithMetrics(ca))
	b := StartHubNode(t, "restart-b", newAdapter(t), core.WithMetrics(cb))
	WaitHealthy(t, a.Adapter)
	WaitHealthy(t, b.Adapter)

	clientsA := dialLoad(t, a, spec.ClientsPerNode)
	clientsB := dialLoad(t, b, spec.ClientsPerNode)
	probeA, probeB := clientsA[0], clientsB[0]
	probeA.record, probeB.record = true, true

	var extra int64 // broadcasts other than the load: warm-ups and closing ones
	require.Eventually(t, func() bool {
		extra++
		a.Hub.Broadcast([]byte("warm-up"))
		return probeB.count.Load() > 0
	}, waitTimeout, 20*time.Millisecond, "no cross-node delivery before the first kill")

	// The load: node A broadcasts "m <n> <send time>" at spec.Rate.
	var sent atomic.Int64
	stop := make(chan struct{})
	var load sync.WaitGroup
	load.Add(1)
	go func() {
		defer load.Done()
		tick := time.NewTicker(time.Second / time.Duration(spec.Rate))
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			n := sent.Add(1)
			a.Hub.Broadcast(fmt.Appendf(nil, "m %d %d", n, time.Now().UnixNano()))
		}
	}()
	stopLoad := sync.OnceFunc(func() { close(stop); load.Wait() })
	defer stopLoad()

	waitFor := func(d time.Duration) {
		timer := time.NewTimer(d)
		defer timer.Stop()
		<-timer.C // the load runs meanwhile: this is the measured period, not a synchronisation
	}
	waitFor(spec.Steady)

	type mark struct {
		firstN        int64
		kill, back    time.Time
		lost          int64
		dropped, errs int64
		clientDropsB  int64
	}
	snapshot := func(m *mark) {
		ta, tb := ca.Traffic(), cb.Traffic()
		m.dropped, m.errs = ta.DroppedTotal(), ta.AdapterErrors["publish"]
		m.lost, m.clientDropsB = tb.Lost, tb.ClientDrops
	}
	marks := make([]mark, spec.Cycles+1)
	for i := range spec.Cycles {
		m := &marks[i]
		m.firstN = sent.Load() + 1
		snapshot(m)
		m.kill = time.Now()
		broker.Kill(t)
		waitFor(spec.Outage)
		broker.Start(t)
		m.back = time.Now()
		waitFor(spec.Steady)
	}
	end := &marks[spec.Cycles]
	end.firstN = sent.Load() + 1
	stopLoad()

	// A last message on the same stream: once it is at B, every message
	// before it has arrived or shows as a gap.
	require.Eventually(t, func() bool {
		extra++
		a.Hub.Broadcast([]byte("end"))
		return probeB.hasEnd()
	}, waitTimeout, 20*time.Millisecond, "the closing message never reached B")
	snapshot(end)

	figures := make([]CycleFigures, spec.Cycles)
	arrivalsA, arrivalsB := probeA.arrivals(), probeB.arrivals()
	for i := range spec.Cycles {
		m, next := &marks[i], &marks[i+1]
		f := &figures[i]
		f.Sent = next.firstN - m.firstN
		f.DroppedAtPublisher = next.dropped - m.dropped
		f.LostBetween = next.lost - m.lost
		f.ClientDropsAtB = next.clientDropsB - m.clientDropsB
		f.PublishErrorsAtNode = next.errs - m.errs
		got := make(map[int64]bool)
		var firstAfter time.Time
		for _, r := range arrivalsB { // in the order they arrived
			if r.n >= m.firstN && r.n < next.firstN {
				got[r.n] = true
			}
			if firstAfter.IsZero() && r.recv.After(m.back) {
				firstAfter = r.recv
			}
			if r.recv.After(m.kill) && (next.kill.IsZero() || r.recv.Before(next.kill)) {
				f.MaxAge = max(f.MaxAge, r.recv.Sub(r.sent))
			}
		}
		f.MissingAtClient = f.Sent - int64(len(got))
		if !firstAfter.IsZero() {
			f.Resume = firstAfter.Sub(m.back)
		}
		var prev time.Time
		for _, r := range arrivalsA {
			if r.recv.Before(m.kill) || (!next.kill.IsZero() && r.recv.After(next.kill)) {
				continue
			}
			if !prev.IsZero() {
				f.LocalGap = max(f.LocalGap, r.recv.Sub(prev))
			}
			prev = r.recv
		}
		t.Logf("cycle %d: %s", i+1, f)
	}

	var oldest arrival
	for _, r := range arrivalsB {
		if r.recv.Sub(r.sent) > oldest.recv.Sub(oldest.sent) {
			oldest = r
		}
	}
	for i, m := range marks[:spec.Cycles] {
		t.Logf("cycle %d: kill at +%v, back at +%v", i+1, m.kill.Sub(marks[0].kill).Round(time.Millisecond), m.back.Sub(marks[0].kill).Round(time.Millisecond))
	}
	t.Logf("oldest at B's probe: message %d, sent at +%v, received at +%v",
		oldest.n, oldest.sent.Sub(marks[0].kill).Round(time.Millisecond), oldest.recv.Sub(marks[0].kill).Round(time.Millisecond))

	// Bounds, per cycle and over every client of B.
	for i, f := range figures {
		assert.Positive(t, f.Resume, "cycle %d: nothing reached B after the broker returned", i+1)
		assert.LessOrEqual(t, f.Resume, resumeBound, "cycle %d: cross-node delivery resumed late", i+1)
		assert.LessOrEqual(t, f.LocalGap, localGapBound, "cycle %d: local delivery stalled", i+1)
	}
	for i, c := range clientsB {
		assert.LessOrEqual(t, time.Duration(c.maxAge.Load()), staleBound, "client %d of B got a stale message", i)
	}

	// The accounting, once what is still in flight (the last closing
	// messages) has landed: each equality must hold within waitTimeout.
	var ta, tb Traffic
	var gotB int64
	settled := func() bool {
		ta, tb = ca.Traffic(), cb.Traffic()
		gotB = 0
		for _, c := range clientsB {
			gotB += c.count.Load()
		}
		return sent.Load()+extra == ta.Published+ta.DroppedTotal() &&
			ta.Published == tb.Received-tb.Duplicates+tb.Lost-tb.Reordered &&
			tb.Received*int64(len(clientsB)) == gotB+tb.ClientDrops
	}
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for deadline := time.Now().Add(waitTimeout); !settled() && time.Now().Before(deadline); {
		<-poll.C
	}
	t.Logf("node A: %d sent, %d published, dropped %v, adapter errors %v", sent.Load()+extra, ta.Published, ta.Dropped, ta.AdapterErrors)
	t.Logf("node B: %d received, %d lost, %d reordered, %d duplicates, %d dropped at clients",
		tb.Received, tb.Lost, tb.Reordered, tb.Duplicates, tb.ClientDrops)
	assert.Equal(t, sent.Load()+extra, ta.Published+ta.DroppedTotal(),
		"A: what it sent to the cluster = published + dropped at the publisher")
	assert.Equal(t, ta.Published, tb.Received-tb.Duplicates+tb.Lost-tb.Reordered,
		"published by A = received by B + lost between them")
	assert.Equal(t, tb.Received*int64(len(clientsB)), gotB+tb.ClientDrops,
		"every client of B got every message B received, less the drops counted at its queue")
	return figures
}

// loadClient is a WebSocket client that counts what it reads, and how old
// the load's messages are when they arrive; a probe also keeps each
// arrival.
type loadClient struct {
	conn   *websocket.Conn
	record bool

	count, parsed atomic.Int64
	maxAge        atomic.Int64 // nanoseconds

	mu   sync.Mutex
	log  []arrival
	ends bool
	done chan struct{}
}

type arrival struct {
	n          int64
	sent, recv time.Time
}

func dialLoad(t *testing.T, n *HubNode, count int) []*loadClient {
	t.Helper()
	url := "ws" + strings.TrimPrefix(n.Server.URL, "http") + "/"
	clients := make([]*loadClient, count)
	for i := range clients {
		conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
		require.NoError(t, err)
		_ = resp.Body.Close()
		c := &loadClient{conn: conn, done: make(chan struct{})}
		clients[i] = c
		go c.read()
		t.Cleanup(func() {
			_ = conn.Close()
			<-c.done
		})
	}
	require.Eventually(t, func() bool { return n.Hub.ClientCount() >= count }, waitTimeout, 5*time.Millisecond)
	return clients
}

func (c *loadClient) read() {
	defer close(c.done)
	for {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now()
		c.count.Add(1)
		rest, ok := strings.CutPrefix(string(data), "m ")
		if !ok {
			if string(data) == "end" {
				c.mu.Lock()
				c.ends = true
				c.mu.Unlock()
			}
			continue
		}
		ns, ts, _ := strings.Cut(rest, " ")
		n, err1 := strconv.ParseInt(ns, 10, 64)
		sentNs, err2 := strconv.ParseInt(ts, 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		c.parsed.Add(1)
		sent := time.Unix(0, sentNs)
		if age := int64(now.Sub(sent)); age > c.maxAge.Load() {
			c.maxAge.Store(age) // one reader goroutine writes it
		}
		if c.record {
			c.mu.Lock()
			c.log = append(c.log, arrival{n: n, sent: sent, recv: now})
			c.mu.Unlock()
		}
	}
}

func (c *loadClient) hasEnd() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ends
}

func (c *loadClient) arrivals() []arrival {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]arrival(nil), c.log...)
}

// DefaultRestartSpec returns the size this module's adapter tests run
// RunBrokerRestarts at: five cycles of two-second outages, 20 clients per
// node, 200 broadcasts a second, so that it fits a test run under -race.
// Change a field of the copy it returns to size a run of your own.
func DefaultRestartSpec() RestartSpec {
	return RestartSpec{Cycles: 5, ClientsPerNode: 20, Rate: 200, Outage: 2 * time.Second, Steady: 1500 * time.Millisecond}
}

// FullRestartSpec returns the size of the measurements quoted in the
// README: five cycles of ten-second outages, 500 clients per node, 200
// broadcasts a second. A run takes over a minute.
func FullRestartSpec() RestartSpec {
	return RestartSpec{Cycles: 5, ClientsPerNode: 500, Rate: 200, Outage: 10 * time.Second, Steady: 3 * time.Second}
}

// RestartSpecFromEnv returns FullRestartSpec when the environment sets
// WSHUB_RESTART_FULL=1, else DefaultRestartSpec: a test that runs
// RunBrokerRestarts with it is quick by default and measures the full
// scenario on demand.
func RestartSpecFromEnv() RestartSpec {
	if os.Getenv("WSHUB_RESTART_FULL") == "1" {
		return FullRestartSpec()
	}
	return DefaultRestartSpec()
}
