package tracing

import (
	"context"
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/wshub/wshub/core"
)

// ScopeName is the instrumentation scope of the Tracer's spans.
const ScopeName = "github.com/wshub/wshub/tracing"

// Span names.
const (
	SpanUpgrade = "wshub.upgrade"
	SpanMessage = "wshub.message"
	SpanPublish = "wshub.publish"
	SpanDeliver = "wshub.deliver"
)

// Attribute keys.
const (
	AttrEvent    = attribute.Key("wshub.event")
	AttrClientID = attribute.Key("wshub.client_id")
	AttrNodeID   = attribute.Key("wshub.node_id")   // the node that sent a delivered message
	AttrBusType  = attribute.Key("wshub.bus.type")  // core.AdapterMessage.Type
	AttrRoom     = attribute.Key("wshub.room")      // room messages
	AttrSize     = attribute.Key("wshub.size")      // payload bytes
	AttrPath     = attribute.Key("url.path")        // the upgrade request's
	otherEvent   = "other"                          // events without a handler
	maxState     = core.MaxTraceContext - ctxHeader // tracestate room on the bus
	ctxVersion   = 1
	ctxHeader    = 1 + 16 + 8 + 1
)

// Tracer implements core.Tracer with an OpenTelemetry TracerProvider. Build
// it with New; it is safe for concurrent use.
type Tracer struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	router *core.Router
}

var _ core.Tracer = (*Tracer)(nil)

// Option configures a Tracer.
type Option func(*Tracer)

// WithRouter names each message span's event (attribute wshub.event) with
// router's event names; without it every message is "other". Names the
// router has no handler for are "other" too.
func WithRouter(router *core.Router) Option { return func(t *Tracer) { t.router = router } }

// WithPropagator reads the trace headers of upgrade requests with p (for
// example propagation.TraceContext{}), so that the wshub.upgrade span
// continues the trace of the page or client that connected. Without it an
// upgrade starts a new trace.
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(t *Tracer) { t.prop = p }
}

// New returns a Tracer that records spans with tp's tracer of ScopeName. A
// nil tp panics: pass a no-op provider (trace/noop) to turn tracing off,
// or give the hub no Tracer at all, which costs less.
func New(tp trace.TracerProvider, opts ...Option) *Tracer {
	if tp == nil {
		panic("tracing: nil TracerProvider")
	}
	t := &Tracer{tracer: tp.Tracer(ScopeName)}
	for _, o := range opts {
		if o != nil {
			o(t)
		}
	}
	return t
}

// StartUpgrade implements core.Tracer.
func (t *Tracer) StartUpgrade(ctx context.Context, r *http.Request) (context.Context, func(error)) {
	if t.prop != nil {
		ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(r.Header))
	}
	ctx, span := t.tracer.Start(ctx, SpanUpgrade, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(AttrPath.String(r.URL.Path)))
	return ctx, func(err error) { end(span, err) }
}

// StartMessage implements core.Tracer.
func (t *Tracer) StartMessage(ctx context.Context, c *core.Client, msg *core.Message) (context.Context, func(error)) {
	event := otherEvent
	if t.router != nil {
		if name, ok := t.router.Event(msg); ok {
			event = name
		}
	}
	ctx, span := t.tracer.Start(ctx, SpanMessage, trace.WithSpanKind(trace.SpanKindServer), trace.WithNewRoot(),
		trace.WithLinks(trace.LinkFromContext(ctx)),
		trace.WithAttributes(AttrEvent.String(event), AttrClientID.String(c.ID), AttrSize.Int(len(msg.Data))))
	return ctx, func(err error) { end(span, err) }
}

// Publish implements core.Tracer: a send whose context carries a span
// records a wshub.publish span under it and stamps m with that span's
// context.
func (t *Tracer) Publish(ctx context.Context, m *core.AdapterMessage) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return
	}
	_, span := t.tracer.Start(ctx, SpanPublish, trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(busAttrs(m)...))
	m.Trace = appendContext(m.Trace[:0], span.SpanContext())
	span.End()
}

// Deliver implements core.Tracer: the delivery of a message whose trace
// context decodes is a wshub.deliver span under the sender's publish.
func (t *Tracer) Deliver(m *core.AdapterMessage) func() {
	sc, ok := decodeContext(m.Trace)
	if !ok {
		return func() {}
	}
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), sc)
	_, span := t.tracer.Start(ctx, SpanDeliver, trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(append(busAttrs(m), AttrNodeID.String(m.NodeID))...))
	return func() { span.End() }
}

func busAttrs(m *core.AdapterMessage) []attribute.KeyValue {
	kv := make([]attribute.KeyValue, 0, 4)
	kv = append(kv, AttrBusType.String(m.Type), AttrSize.Int(len(m.Data)))
	if m.Room != "" {
		kv = append(kv, AttrRoom.String(m.Room))
	}
	return kv
}

func end(span trace.Span, err error) {
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
