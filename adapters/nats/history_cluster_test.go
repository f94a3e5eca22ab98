package nats

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// clusterFormTimeout bounds how long a private three-server cluster may
// take to elect its JetStream leaders before the test is skipped.
const clusterFormTimeout = 20 * time.Second

// natsCluster is a JetStream cluster of private nats-server processes on
// loopback, each with its own store, named s0, s1, ...
type natsCluster struct {
	servers []*natsServer
}

func newNATSCluster(t *testing.T, n int) *natsCluster {
	t.Helper()
	routePorts := make([]int, n)
	for i := range routePorts {
		routePorts[i] = freePort(t)
	}
	c := &natsCluster{}
	for i := range n {
		var routes []string
		for j, p := range routePorts {
			if j != i {
				routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(p))
			}
		}
		s := newNATSServer(t)
		s.args = []string{
			"-js", "-sd", t.TempDir(),
			"--server_name", fmt.Sprint("s", i),
			"--cluster_name", "wshubtest",
			"--cluster", "nats://127.0.0.1:" + strconv.Itoa(routePorts[i]),
			"--routes", strings.Join(routes, ","),
		}
		c.servers = append(c.servers, s)
	}
	for _, s := range c.servers {
		s.start(t)
	}
	return c
}

// urls returns the client URLs of the servers, except the one named skip.
func (c *natsCluster) urls(skip string) string {
	var out []string
	for i, s := range c.servers {
		if fmt.Sprint("s", i) != skip {
			out = append(out, s.url())
		}
	}
	return strings.Join(out, ",")
}

// TestHistoryClusterFailover appends to a stream with three replicas while
// the server leading it is killed: every append that succeeded is in the
// history afterwards, at the position it got, with contiguous offsets, and
// a node on a surviving server received the live messages in offset order.
func TestHistoryClusterFailover(t *testing.T) {
	const (
		room   = "replicated"
		before = 30 // successful appends before the kill
		after  = 30 // and after it
	)
	cluster := newNATSCluster(t, 3)
	prefix := testPrefix()
	opts := core.History{Size: 10000}
	a := newAdapter(t, connect(t, cluster.urls(""), faultConnOptions()...), prefix, WithHistoryReplicas(3))

	// The first append creates the stream once the cluster has elected a
	// JetStream leader.
	formed := time.Now().Add(clusterFormTimeout)
	var first core.Position
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		p, err := appendOne(ctx, a, opts, historyMsg(room, "first"))
		cancel()
		if err == nil {
			first = p
			break
		}
		if time.Now().After(formed) {
			// CI runs it: there a cluster that cannot form is a failure.
			if os.Getenv("CI") != "" {
				t.Fatalf("the JetStream cluster did not form within %v: %v", clusterFormTimeout, err)
			}
			t.Skipf("the JetStream cluster did not form within %v: %v", clusterFormTimeout, err)
		}
	}
	js, err := jetstream.New(a.nc)
	require.NoError(t, err)
	stream, err := js.Stream(context.Background(), a.subj.historyStream(historyKeyOf(opts)))
	require.NoError(t, err)
	info, err := stream.Info(context.Background())
	require.NoError(t, err)
	require.NotNil(t, info.Cluster)
	leader := info.Cluster.Leader
	require.Len(t, info.Cluster.Replicas, 2, "three replicas")
	t.Logf("stream leader %s, first append %v", leader, first)
	var victim *natsServer
	for i, s := range cluster.servers {
		if fmt.Sprint("s", i) == leader {
			victim = s
		}
	}
	require.NotNil(t, victim, "leader %q is none of ours", leader)

	live := roomListener(t, cluster.urls(leader), prefix, room)

	var (
		mu       sync.Mutex
		stored   = map[string]core.Position{"first": first}
		failures []error
		stopCh   = make(chan struct{})
		done     sync.WaitGroup
	)
	succeeded := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(stored)
	}
	done.Add(1)
	go func() {
		defer done.Done()
		pace := time.NewTicker(2 * time.Millisecond)
		defer pace.Stop()
		for i := 0; ; i++ {
			select {
			case <-stopCh:
				return
			case <-pace.C:
			}
			data := fmt.Sprint("m", i)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			p, err := appendOne(ctx, a, opts, historyMsg(room, data))
			cancel()
			mu.Lock()
			if err == nil {
				stored[data] = p
			} else {
				failures = append(failures, err)
			}
			mu.Unlock()
		}
	}()
	var stopOnce sync.Once
	stop := func() {
		stopOnce.Do(func() { close(stopCh) })
		done.Wait()
	}
	defer stop()

	require.Eventually(t, func() bool { return succeeded() > before }, waitFor, tick, "appends not flowing")
	killed := time.Now()
	victim.kill(t)
	atKill := succeeded()
	require.Eventually(t, func() bool { return succeeded() > atKill+after }, 2*waitFor, tick,
		"appends did not resume after the leader was killed")
	resumed := time.Since(killed)
	stop()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d appends succeeded (%d after the kill, resumed within %v), %d failed", len(stored), len(stored)-atKill, resumed, len(failures))
	for i, err := range failures {
		if i < 5 {
			t.Logf("failure: %v", err)
		}
	}

	reader := newAdapter(t, connect(t, cluster.urls(leader), faultConnOptions()...), prefix)
	var page core.HistoryPage
	for deadline := time.Now().Add(waitFor); ; {
		page, err = reader.ReadHistory(context.Background(), room, opts, core.HistoryQuery{})
		if err == nil {
			break
		}
		require.False(t, time.Now().After(deadline), "history unreadable: %v", err)
		t.Logf("read: %v", err)
	}
	assert.Equal(t, first.Epoch, page.Epoch, "the epoch survives a failover")
	assert.Equal(t, uint64(1), page.First)
	require.Equal(t, wshubtest.Span(1, page.Top), wshubtest.Offsets(page.Messages), "offsets not contiguous")
	inHistory := make(map[string]core.Position)
	for _, m := range page.Messages {
		_, dup := inHistory[string(m.Data)]
		assert.False(t, dup, "%q stored twice", m.Data)
		inHistory[string(m.Data)] = m.Pos
	}
	for data, p := range stored {
		assert.Equal(t, p, inHistory[data], "acknowledged append %q", data)
	}

	var last uint64
	for _, m := range positioned(live, room) {
		assert.Greater(t, m.Pos.Offset, last, "live messages out of order")
		last = m.Pos.Offset
	}
	t.Logf("live: %d of %d received", len(positioned(live, room)), len(page.Messages))
}

// TestHistoryReplicasOption checks the validation of WithHistoryReplicas
// and WithHistoryStorage.
func TestHistoryReplicasOption(t *testing.T) {
	t.Parallel()
	nc := connect(t, sharedURL)
	tests := []struct {
		name string
		give Option
		ok   bool
	}{
		{"one replica", WithHistoryReplicas(1), true},
		{"five replicas", WithHistoryReplicas(MaxHistoryReplicas), true},
		{"no replica", WithHistoryReplicas(0), false},
		{"six replicas", WithHistoryReplicas(MaxHistoryReplicas + 1), false},
		{"memory", WithHistoryStorage(jetstream.MemoryStorage), true},
		{"file", WithHistoryStorage(jetstream.FileStorage), true},
		{"unknown storage", WithHistoryStorage(jetstream.StorageType(7)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, err := New(nc, tt.give)
			if !tt.ok {
				require.ErrorIs(t, err, ErrInvalidOption)
				return
			}
			require.NoError(t, err)
			require.NoError(t, a.Close())
		})
	}
}
