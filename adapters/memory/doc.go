// Package memory is an in-process message bus that implements core.Adapter,
// so that several hubs in one process can talk to each other as if they ran
// on separate nodes: in tests, examples and demos.
//
// A Bus is the shared medium; each hub gets its own Adapter from
// Bus.NewAdapter. Publish hands a message to every subscribed adapter on the
// bus, including the publisher itself, as a real broker does: the hub drops
// its own messages by NodeID. Messages of type core.AdapterRoom and
// core.AdapterRoomExcept reach only the adapters that declared interest in
// their room (core.RoomInterestAdapter) when their Subscribe context came
// from core.WithRoomInterest, as a hub's does; without it an adapter
// receives every room. Every other type reaches all.
//
// Every message goes through the wire codec (package internal/wire): Publish
// encodes it once and each receiver decodes its own copy, so the bus
// exercises the same encoding as the NATS and Redis adapters and no two hubs
// ever share a Data slice.
//
// Delivery is asynchronous and never blocks the publisher. Each subscribed
// adapter has a bounded inbox (DefaultInboxSize, see WithInboxSize); when it
// is full, further messages for that adapter are dropped, counted (Dropped)
// and reported to the error reporter (SetErrorReporter) as a
// core.AdapterError with Op "subscribe" wrapping ErrInboxFull. Messages from
// one publisher reach a receiver in the order they were published.
//
// Goroutines: Subscribe starts one delivery goroutine per adapter, which
// calls the handler for each message in turn. It stops when the ctx given to
// Subscribe is cancelled or when Close is called; Close waits for it. Close
// must therefore not be called from inside the handler. Nothing else starts
// goroutines: NewBus and NewAdapter only allocate.
//
// All methods of Bus and Adapter are safe for concurrent use.
package memory
