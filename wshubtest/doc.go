// Package wshubtest is the conformance suite for cluster adapters
// (core.Adapter) and the kit of hub helpers it is built from. This
// module's memory, NATS and Redis adapters pass it; an adapter of your own,
// over Kafka, Postgres LISTEN/NOTIFY or anything else, can run the same
// checks with one call in its tests:
//
//	func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
//
//	func TestWSHub(t *testing.T) {
//		wshubtest.RunAll(t, wshubtest.Suite{
//			NewBus: func(t *testing.T) func(t *testing.T) core.Adapter {
//				prefix := "test." + uniqueSuffix() // a bus of its own
//				return func(t *testing.T) core.Adapter { return newAdapter(t, prefix) }
//			},
//		})
//	}
//
// # What the suite checks
//
// [RunAll] runs every part as a subtest. [RunContract] (the Contract part) checks
// the adapter alone: delivery of every field, Subscribe once and without
// blocking, concurrent Publish, each publisher's order, Publish and Close
// racing, Data not shared between publisher and receivers. The other
// parts run real hubs on the adapter, served by httptest servers, with
// real WebSocket clients: every kind of send reaches exactly the right
// sockets ([RunHubs]); heartbeats, eviction of a dead node and goodbyes
// ([RunPresence]); room subscriptions in place before anything published
// after a join ([RunJoinRace]); the control plane ([RunControl]).
//
// The optional core interfaces an adapter implements unlock more:
//
//   - core.BatchPublisher, core.HealthCheckAdapter: more of the Contract
//     part; the hub suites also wait for a node to be healthy
//     ([WaitHealthy]) before they start.
//   - core.RoomInterestAdapter: the Contract part checks that room
//     messages reach only the adapters interested in their room.
//   - core.HistoryAdapter: resumable rooms, recovery from a cursor, replay
//     racing live traffic and gap filling from the store ([RunRecovery],
//     [RunRecoveryRace], [RunGapFill]); with core.RoomInterestAdapter too,
//     a subscription that takes effect late ([RunLateSubscription]).
//   - core.PresenceAdapter: the member store's compare-and-set
//     ([RunPresenceStore]) and member lists with their join and leave
//     events across three hubs ([RunMembers]).
//
// [Parts] tells which parts an adapter gets. This module's three adapters
// run the suite through RunAll; the Run functions can also be called one
// by one, to run a part alone. The checks that need more than a factory
// of adapters are separate and optional: [RunHubFault],
// [RunRecoveryAcrossRestart] and [RunBrokerRestarts] kill and restart the
// broker through a [Broker] you implement (a [RestartSpec] sizes
// RunBrokerRestarts: [DefaultRestartSpec], [FullRestartSpec], or
// [RestartSpecFromEnv] to pick one with WSHUB_RESTART_FULL);
// [RunMembersCrash] kills a node process, a child that runs the test
// binary again, which [MemberChild] must divert first thing in TestMain.
// The Bench functions measure an adapter under a hub.
//
// # Waits and timing
//
// Every wait in the kit is on a condition with a deadline (15 s for a
// delivery), not a fixed sleep, so the suite tolerates brokers that deliver
// asynchronously and subscriptions that take a moment to become active.
// A few checks bound a latency: an answer after a join within 2 s, a dead
// node evicted after about three heartbeat intervals of 200 ms, a leave
// after a linger of 400 ms. Run the suite on a machine that is not
// starved, and not in parallel with other heavy tests.
//
// # Hub helpers
//
// The suite is built from helpers an adapter's own tests can use too.
// [StartHub] runs a hub behind an httptest server ([StartHubNode] one node
// of a cluster, [ServeHub] serves a hub run elsewhere), and [WaitHealthy]
// waits until a node's adapter is subscribed. [HubNode.Dial] and its
// variants connect real clients with gorilla's dialer, each a [Socket]
// that records what it receives, and wait until the hub has registered
// it: each dial carries a query parameter of its own, "wshubtest-dial",
// by which it finds its client among others connecting at the same
// moment. [Socket.ReadUntilClose] returns the code and reason of the
// server's close frame.
//
// For history and member tests, [HistoryNode] and [MembersNode] start
// hubs whose rooms keep history ([HistoryRooms]) or track members
// ([MemberRooms]) and that join clients to the rooms [HubNode.DialRoom]
// and [HubNode.DialMember] name ([JoinFromQuery]); [ParseEnvelope] and
// [Socket.Offsets] read what a client of a history room received, and
// [Offsets] and [Span] compare offsets. [Counters] and [LogRecorder]
// record a hub's metrics and logs, [PresenceEvents] and [Recoveries] its
// hooks; [Lossy] and [LateInterest] wrap an adapter to lose messages or
// subscribe late, and fail the test when the adapter lacks an interface
// they need; [Spread] spreads a load over goroutines.
//
// # Goroutines
//
// A hub started by the kit runs Run in a goroutine, which the test's
// cleanup stops with Shutdown; a Socket reads its connection in a
// goroutine, which ends when the cleanup closes the connection; the
// suites wait for the goroutines they start inside a test before it
// ends. The adapters' own goroutines stop when their adapter is closed:
// the suite closes every adapter it gets. Add goleak.VerifyTestMain to the
// adapter package's TestMain to check that nothing outlives Close.
//
// Call the Run functions and the helpers that take a testing.TB from the
// test's goroutine: they stop the test on failure. Socket, Counters,
// LogRecorder, PresenceEvents and Recoveries are safe for concurrent use.
// The package keeps no state between calls: every helper works on what
// it is given.
package wshubtest
