package redis

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// TestSuite runs the adapter conformance suite on the shared Redis (see
// wshubtest.RunAll), each part on a bus of its own (see newBus): the
// contract, hubs, presence, the control plane, 1,000 joins racing their
// answers, recovery from Redis Streams with 40 clients racing live
// traffic, gap filling, late subscriptions, and member records in Redis
// hashes. A wrapper or refactoring that hides an optional interface fails
// here, before RunAll would skip its parts.
func TestSuite(t *testing.T) {
	ad := newAdapter(t, sharedAddr, uniquePrefix(t))
	require.Equal(t, wshubtest.AllParts(), wshubtest.Parts(ad), "parts the Redis adapter runs")
	wshubtest.RunAll(t, wshubtest.Suite{NewBus: newBus, JoinRaceTries: 1000})
}

// newBus is the suite's NewBus: a channel prefix of its own on the shared
// Redis, adapters each with a client of their own, and, once the part has
// closed them, every key of the prefix deleted: the kit's history rooms
// (kept for an hour) and member records.
func newBus(t *testing.T) func(t *testing.T) core.Adapter {
	t.Helper()
	prefix := uniquePrefix(t)
	dropPrefixOnCleanup(t, prefix)
	return func(t *testing.T) core.Adapter { return newAdapter(t, sharedAddr, prefix) }
}

// dropPrefixOnCleanup deletes every key of prefix on the shared Redis when
// the test ends (tests only: it scans the whole keyspace).
func dropPrefixOnCleanup(t testing.TB, prefix string) {
	t.Helper()
	c := newClient(t, sharedAddr) // closed after the cleanup below
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		iter := c.Scan(ctx, 0, globQuote(prefix)+":*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		require.NoError(t, iter.Err(), "scan the keys of %s", prefix)
		if len(keys) > 0 {
			require.NoError(t, c.Del(ctx, keys...).Err(), "delete the keys of %s", prefix)
		}
	})
}
