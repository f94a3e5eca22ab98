package nats

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// TestSuite runs the adapter conformance suite on the shared server (see
// wshubtest.RunAll), each part on a bus of its own (see newBus): the
// contract, hubs, presence, the control plane, 1,000 joins racing their
// answers, recovery from JetStream with 40 clients racing live traffic,
// gap filling, late subscriptions, and member records in JetStream
// key-value. A wrapper or refactoring that hides an optional interface
// fails here, before RunAll would skip its parts.
func TestSuite(t *testing.T) {
	ad := newAdapter(t, connect(t, sharedURL), testPrefix())
	require.Equal(t, wshubtest.AllParts(), wshubtest.Parts(ad), "parts the NATS adapter runs")
	wshubtest.RunAll(t, wshubtest.Suite{NewBus: newBus, JoinRaceTries: 1000})
}

// newBus is the suite's NewBus: a subject prefix of its own on the shared
// server, adapters each on a connection of their own, and, once the part
// has closed them, the JetStream streams of the kit's history rooms and
// the presence bucket deleted. A stream of the prefix that is still there
// then fails the part (and is deleted too), so whatever a new part
// creates cannot pile up on the shared server unnoticed.
func newBus(t *testing.T) func(t *testing.T) core.Adapter {
	t.Helper()
	prefix := testPrefix()
	a := newAdapter(t, connect(t, sharedURL), prefix)
	t.Cleanup(func() { dropStreamsLeft(t, a) }) // cleanups run last-in first-out: after the two below
	dropPresence(t, a)
	dropKitStreams(t, prefix)
	return func(t *testing.T) core.Adapter { return newAdapter(t, connect(t, sharedURL), prefix) }
}

// dropStreamsLeft deletes the streams of a's prefix still on the server,
// history streams and key-value buckets alike, and fails t for each.
func dropStreamsLeft(t testing.TB, a *Adapter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	tok := a.subj.nameToken()
	names := a.hist.js.StreamNames(ctx)
	var left []string
	for name := range names.Name() {
		if strings.HasPrefix(name, tok+"_") || strings.HasPrefix(name, "KV_"+tok+"_") {
			left = append(left, name)
		}
	}
	require.NoError(t, names.Err(), "list streams")
	for _, name := range left {
		t.Errorf("stream %s of bus %s left on the server: delete it in newBus", name, a.subj.prefix)
		if err := a.hist.js.DeleteStream(ctx, name); err != nil {
			t.Errorf("delete stream %s: %v", name, err)
		}
	}
}
