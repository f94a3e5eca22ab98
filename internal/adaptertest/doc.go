// Package adaptertest is a conformance suite for core.Adapter
// implementations. An adapter package calls Run from one of its tests with a
// factory that returns adapters connected to one bus (a real broker for the
// NATS and Redis adapters); Run checks the Adapter contract and, when the
// adapters implement them, the optional core.BatchPublisher,
// core.HealthCheckAdapter and core.RoomInterestAdapter extensions.
//
// RunHubs, RunPresence and RunHubFault check hubs on top of an adapter, with
// real WebSocket clients; HubNode and Socket are their building blocks.
//
// Every wait in the suite is on a condition with a deadline, so it tolerates
// brokers that deliver asynchronously and subscriptions that take a moment
// to become active.
//
// Goroutines: the suite starts publishing goroutines inside its tests and
// waits for them before each test ends. The adapters' own goroutines are
// stopped by closing the adapters, which Run does at the end of each test;
// callers should add goleak.VerifyTestMain to their package to check that
// nothing outlives Close.
package adaptertest
