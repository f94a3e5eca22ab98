package wshubtest

import (
	"cmp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// Suite describes an adapter to RunAll.
type Suite struct {
	// NewBus sets up a bus of its own for one part of the suite and
	// returns the factory of its adapters. RunAll calls it once per part
	// (Contract calls it once per subtest, PresenceStore once per store),
	// with the part's t; the factory's t is the test that gets the
	// adapter. NewBus is required.
	//
	// Every adapter the factory returns must reach every other adapter of
	// its bus, and no adapter of another bus, whatever else runs on the
	// broker: give each bus a subject, channel or topic prefix of its own,
	// as this module's NATS and Redis tests do (the in-memory adapter takes
	// a new memory.Bus). What a bus stores, history and member records,
	// is shared by its adapters and starts empty. Each adapter is fresh and
	// not subscribed yet.
	//
	// The suite closes every adapter it gets, the hubs in their Shutdown,
	// before the cleanups that NewBus and the factory registered on their
	// t run, so those may delete what the bus left on the broker. Close
	// must accept being called again: some parts close an adapter under a
	// running hub, as a dead link, and the hub closes it once more.
	NewBus func(t *testing.T) func(t *testing.T) core.Adapter

	// JoinRaceTries is how many joins the JoinRace part checks (see
	// RunJoinRace); 0 means 1,000, as this module's adapters run it.
	JoinRaceTries int
}

// part is one subtest of RunAll.
type part struct {
	name  string
	needs string                  // what has checks, for the skip message
	has   func(core.Adapter) bool // nil: every adapter has what it needs
	run   func(t *testing.T, s Suite)
}

func isHistory(a core.Adapter) bool  { _, ok := a.(core.HistoryAdapter); return ok }
func isPresence(a core.Adapter) bool { _, ok := a.(core.PresenceAdapter); return ok }

// parts lists RunAll's subtests in the order it runs them.
func parts() []part {
	const history, members = "core.HistoryAdapter", "core.PresenceAdapter"
	return []part{
		{name: "Contract", run: func(t *testing.T, s Suite) { RunContract(t, s.adapters) }},
		{name: "Hubs", run: func(t *testing.T, s Suite) { RunHubs(t, s.NewBus(t)) }},
		{name: "Presence", run: func(t *testing.T, s Suite) { RunPresence(t, s.NewBus(t)) }},
		{name: "JoinRace", run: func(t *testing.T, s Suite) {
			RunJoinRace(t, cmp.Or(s.JoinRaceTries, 1000), s.NewBus(t))
		}},
		{name: "Control", run: func(t *testing.T, s Suite) { RunControl(t, s.NewBus(t)) }},
		{name: "Recovery", needs: history, has: isHistory, run: func(t *testing.T, s Suite) {
			RunRecovery(t, s.NewBus(t))
		}},
		{name: "RecoveryRace", needs: history, has: isHistory, run: func(t *testing.T, s Suite) {
			RunRecoveryRace(t, 40, s.NewBus(t))
		}},
		{name: "GapFill", needs: history, has: isHistory, run: func(t *testing.T, s Suite) {
			RunGapFill(t, s.NewBus(t))
		}},
		{
			name: "LateSubscription", needs: history + " and core.RoomInterestAdapter",
			has: func(a core.Adapter) bool { return isHistory(a) && isRoomInterest(a) },
			run: func(t *testing.T, s Suite) { RunLateSubscription(t, s.NewBus(t)) },
		},
		{name: "PresenceStore", needs: members, has: isPresence, run: func(t *testing.T, s Suite) {
			RunPresenceStore(t, s.store)
		}},
		{name: "Members", needs: members, has: isPresence, run: func(t *testing.T, s Suite) {
			RunMembers(t, s.NewBus(t))
		}},
	}
}

// Parts returns the names of the subtests RunAll runs for adapters like
// ad, in order; it skips the others. An adapter that implements every
// optional interface the suite knows gets all of them: Contract, Hubs,
// Presence, JoinRace, Control, Recovery, RecoveryRace, GapFill,
// LateSubscription, PresenceStore and Members. A test can compare it with
// that list to catch a wrapper that hides an extension.
func Parts(ad core.Adapter) []string {
	var out []string
	for _, p := range parts() {
		if p.has == nil || p.has(ad) {
			out = append(out, p.name)
		}
	}
	return out
}

// AllParts returns the names of every part RunAll knows, in order: what
// Parts returns for an adapter that implements every optional interface
// the suite knows. An adapter that should have them all compares the two.
func AllParts() []string {
	var out []string
	for _, p := range parts() {
		out = append(out, p.name)
	}
	return out
}

// RunAll runs the conformance suite of an adapter, each part a subtest
// of t named after it (see Parts), one after another: the parts time
// what they check, so they do not run in parallel. Over the in-memory
// bus the whole suite takes under ten seconds with the race detector.
//
//   - Contract: [RunContract], the core.Adapter contract and, where
//     implemented, core.BatchPublisher, core.HealthCheckAdapter and
//     core.RoomInterestAdapter.
//   - Hubs: [RunHubs], every kind of send across three hubs reaches the
//     right sockets once.
//   - Presence: [RunPresence], heartbeats, eviction and goodbyes.
//   - JoinRace: [RunJoinRace], an answer to a message sent right after a
//     join reaches the new member, Suite.JoinRaceTries times.
//   - Control: [RunControl], the control plane across four hubs.
//   - Recovery, RecoveryRace, GapFill: [RunRecovery], [RunRecoveryRace]
//     (40 clients) and [RunGapFill], for a core.HistoryAdapter;
//     LateSubscription: [RunLateSubscription], for one that is a
//     core.RoomInterestAdapter too.
//   - PresenceStore, Members: [RunPresenceStore] and [RunMembers], for a
//     core.PresenceAdapter.
//
// RunAll reads which optional interfaces the adapter implements from one
// adapter of the factory, which it closes unsubscribed; a part whose
// interfaces it lacks is skipped with a message that names them. Leave a
// part out with go test's -skip flag (-skip 'TestWSHub/JoinRace').
//
// What needs more than a factory stays out, to call on its own:
// [RunHubFault], [RunRecoveryAcrossRestart] and [RunBrokerRestarts] kill
// and restart the broker through a [Broker]; [RunMembersCrash] and
// [BenchMembers] run the test binary again as a child process, which
// [MemberChild] in TestMain diverts; and the benchmarks.
func RunAll(t *testing.T, s Suite) {
	t.Helper()
	if s.NewBus == nil {
		t.Fatal("wshubtest: Suite.NewBus is nil")
	}
	probe := s.NewBus(t)(t)
	require.NotNil(t, probe, "NewBus's factory returned nil")
	ps := parts()
	has := make([]bool, len(ps))
	for i, p := range ps {
		has[i] = p.has == nil || p.has(probe)
	}
	if err := probe.Close(); err != nil {
		t.Errorf("Close of an adapter that was never subscribed: %v", err)
	}
	for i, p := range ps {
		t.Run(p.name, func(t *testing.T) {
			if !has[i] {
				t.Skipf("needs an adapter that implements %s", p.needs)
			}
			p.run(t, s)
		})
	}
}

// adapters is RunContract's factory: n adapters of a new bus.
func (s Suite) adapters(t *testing.T, n int) []core.Adapter {
	t.Helper()
	newAdapter := s.NewBus(t)
	out := make([]core.Adapter, n)
	for i := range out {
		out[i] = newAdapter(t)
	}
	return out
}

// store is RunPresenceStore's factory: the one adapter of a new bus,
// closed when the test ends.
func (s Suite) store(t *testing.T) core.PresenceAdapter {
	t.Helper()
	ad := s.NewBus(t)(t)
	st, ok := ad.(core.PresenceAdapter)
	require.True(t, ok, "the factory returned a %T, which is not a core.PresenceAdapter", ad)
	t.Cleanup(func() {
		if err := ad.Close(); err != nil {
			t.Errorf("Close of a member store: %v", err)
		}
	})
	return st
}
