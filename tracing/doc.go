// Package tracing follows a hub's messages with OpenTelemetry traces: an
// upgrade, each message a client sends (through its hooks, middleware and
// handler), a publish to the other nodes and its delivery on each of them,
// all in one trace across nodes.
//
// Give the hub a Tracer built from the application's TracerProvider:
//
//	hub := core.NewHub(core.WithTracer(tracing.New(tp, tracing.WithRouter(router))))
//
// or, in an fx app, add wshubfx.TracingModule next to wshubfx.Module with a
// trace.TracerProvider in the graph. The package depends on the
// OpenTelemetry API only; the application picks the SDK and the exporter.
//
// # Spans
//
//	| name            | kind     | when                                        |
//	|-----------------|----------|---------------------------------------------|
//	| wshub.upgrade   | server   | core.Hub.UpgradeConnection, until the       |
//	|                 |          | client is registered or refused             |
//	| wshub.message   | server   | a client's message, from its read to the    |
//	|                 |          | end of its handler; a new trace, linked to  |
//	|                 |          | the connection's wshub.upgrade span         |
//	| wshub.publish   | producer | a send with a traced context hands the      |
//	|                 |          | message to the publisher for other nodes    |
//	| wshub.deliver   | consumer | another node delivers that message to its   |
//	|                 |          | local clients; child of wshub.publish       |
//
// A message span's context is the message's (core.Message.Context). A
// handler that passes it to a send taking a context (for example
// core.Hub.BroadcastToRoomWithContext) makes that send's publish a child of
// the message, and the deliveries on the other nodes children of the
// publish. Sends without a context, or with one that carries no span, are
// not traced.
//
// The event name (attribute wshub.event) comes from the Router given with
// WithRouter; names it has no handler for are recorded as "other", so a
// client cannot make up attribute values. Client IDs and room names are
// attributes (wshub.client_id, wshub.room): traces are sampled, not
// aggregated, so they bound nothing.
//
// # On the bus
//
// A traced message carries its publish span's context to the other nodes
// in core.AdapterMessage.Trace (extension 3 of the bus envelope): a version
// byte (1), the 16-byte trace ID, the 8-byte span ID, the trace flags byte,
// then the W3C tracestate string when it fits (core.MaxTraceContext bytes in
// all). Nodes without a Tracer, and older nodes, ignore it. A context that
// does not decode (another version, garbage) is ignored: the delivery
// starts a new trace.
//
// # Cost
//
// A hub without a Tracer pays one nil check per message and per publish.
// With one, the cost is the SDK's: see BenchmarkMessage and
// BenchmarkBroadcast in this package.
//
// The package starts no goroutines. A Tracer is safe for concurrent use.
package tracing
