package redis

import (
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/adaptertest"
)

// memberAdapters returns a factory of adapters sharing one new prefix on
// the shared Redis, whose presence keys are deleted when the test ends.
func memberAdapters(tb testing.TB) (string, func(tb testing.TB) core.Adapter) {
	prefix := uniquePrefix(tb)
	dropPresenceOnCleanup(tb, newAdapter(tb, sharedAddr, prefix))
	return prefix, func(tb testing.TB) core.Adapter { return newAdapter(tb, sharedAddr, prefix) }
}

// memberChildAdapter is the adapter of a child process of the member
// tests (see adaptertest.MemberChild).
func memberChildAdapter(prefix string) (core.Adapter, error) {
	return New(goredis.NewClient(&goredis.Options{Addr: sharedAddr}), WithChannelPrefix(prefix))
}

// TestMembersOverRedis: member lists and presence events of three hubs
// whose records live in Redis hashes (see adaptertest.RunMembers).
func TestMembersOverRedis(t *testing.T) {
	_, newAd := memberAdapters(t)
	adaptertest.RunMembers(t, func(t *testing.T) core.Adapter { return newAd(t) })
}

// TestMembersOfKilledNodeLeaveOverRedis: kill -9 of a node process makes
// its members leave, once (see adaptertest.RunMembersCrash).
func TestMembersOfKilledNodeLeaveOverRedis(t *testing.T) {
	prefix, newAd := memberAdapters(t)
	adaptertest.RunMembersCrash(t, prefix, func(t *testing.T) core.Adapter { return newAd(t) })
}

// TestControlOverRedis: the control plane across four hubs, one without
// it and one dead (see adaptertest.RunControl).
func TestControlOverRedis(t *testing.T) {
	prefix := uniquePrefix(t)
	adaptertest.RunControl(t, func(t *testing.T) core.Adapter { return newAdapter(t, sharedAddr, prefix) })
}

// BenchmarkMembers10k: 10,000 members on one node, recorded in Redis (see
// adaptertest.BenchMembers).
//
//	go test -run '^$' -bench BenchmarkMembers10k -benchtime 20x ./adapters/redis/
func BenchmarkMembers10k(b *testing.B) {
	_, newAd := memberAdapters(b)
	adaptertest.BenchMembers(b, 10_000, newAd)
}

// BenchmarkDisconnectUser: DisconnectUser across three nodes over Redis.
func BenchmarkDisconnectUser(b *testing.B) {
	prefix := uniquePrefix(b)
	adaptertest.BenchDisconnectUser(b, func(tb testing.TB) core.Adapter { return newAdapter(tb, sharedAddr, prefix) })
}

// BenchmarkBroadcastChurn: broadcast latency with and without member
// churn on the same node (run with -benchtime 1x; see
// adaptertest.BenchBroadcastChurn).
func BenchmarkBroadcastChurn(b *testing.B) {
	for _, churn := range []string{"", "plain", "members"} {
		b.Run("churn="+churn, func(b *testing.B) {
			_, newAd := memberAdapters(b)
			adaptertest.BenchBroadcastChurn(b, churn, newAd)
		})
	}
}
