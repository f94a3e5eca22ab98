package redis

import (
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/wshubtest"
)

// memberAdapters returns a factory of adapters sharing one new prefix on
// the shared Redis, whose presence keys are deleted when the test ends.
func memberAdapters(tb testing.TB) (string, func(tb testing.TB) core.Adapter) {
	prefix := uniquePrefix(tb)
	dropPresenceOnCleanup(tb, newAdapter(tb, sharedAddr, prefix))
	return prefix, func(tb testing.TB) core.Adapter { return newAdapter(tb, sharedAddr, prefix) }
}

// memberChildAdapter is the adapter of a child process of the member
// tests (see wshubtest.MemberChild).
func memberChildAdapter(prefix string) (core.Adapter, error) {
	return New(goredis.NewClient(&goredis.Options{Addr: sharedAddr}), WithChannelPrefix(prefix))
}

// TestMembersOfKilledNodeLeaveOverRedis: kill -9 of a node process makes
// its members leave, once (see wshubtest.RunMembersCrash).
func TestMembersOfKilledNodeLeaveOverRedis(t *testing.T) {
	prefix, newAd := memberAdapters(t)
	wshubtest.RunMembersCrash(t, prefix, func(t *testing.T) core.Adapter { return newAd(t) })
}

// BenchmarkMembers10k: 10,000 members on one node, recorded in Redis (see
// wshubtest.BenchMembers).
//
//	go test -run '^$' -bench BenchmarkMembers10k -benchtime 20x ./adapters/redis/
func BenchmarkMembers10k(b *testing.B) {
	_, newAd := memberAdapters(b)
	wshubtest.BenchMembers(b, 10_000, newAd)
}

// BenchmarkDisconnectUser: DisconnectUser across three nodes over Redis.
func BenchmarkDisconnectUser(b *testing.B) {
	prefix := uniquePrefix(b)
	wshubtest.BenchDisconnectUser(b, func(tb testing.TB) core.Adapter { return newAdapter(tb, sharedAddr, prefix) })
}

// BenchmarkBroadcastChurn: broadcast latency with and without member
// churn on the same node (run with -benchtime 1x; see
// wshubtest.BenchBroadcastChurn).
func BenchmarkBroadcastChurn(b *testing.B) {
	for _, churn := range []string{"", "plain", "members"} {
		b.Run("churn="+churn, func(b *testing.B) {
			_, newAd := memberAdapters(b)
			wshubtest.BenchBroadcastChurn(b, churn, newAd)
		})
	}
}
