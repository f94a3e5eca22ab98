package tracing_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	natsgo "github.com/nats-io/nats.go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/adapters/nats"
	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/tracing"
	"github.com/wshub/wshub/wshubtest"
)

// typeEvent names a JSON message by its "type" field.
func typeEvent(m *core.Message) string {
	var v struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(m.Data, &v)
	return v.Type
}

// tracedNode starts a hub on ad whose spans go to its own in-memory
// exporter; its router's "say" handler broadcasts the text to the room
// "lobby" with the message's context, and "join" joins the sender to it.
func tracedNode(t *testing.T, id string, ad core.Adapter) (*wshubtest.HubNode, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	var hub *core.Hub
	router := core.NewRouter(typeEvent)
	router.On("say", func(_ *core.Client, msg *core.Message) error {
		return hub.BroadcastToRoomWithContext(msg.Context(), "lobby", []byte("said"))
	})
	n := wshubtest.StartHubNode(t, id, ad,
		core.WithTracer(tracing.New(tp, tracing.WithRouter(router), tracing.WithPropagator(propagation.TraceContext{}))),
		core.WithMessageHandler(router.Handle))
	hub = n.Hub
	return n, exp
}

func natsAdapter(t *testing.T, prefix string) core.Adapter {
	t.Helper()
	nc, err := natsgo.Connect("nats://127.0.0.1:4222")
	require.NoError(t, err)
	t.Cleanup(nc.Close)
	a, err := nats.New(nc, nats.WithSubjectPrefix(prefix))
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	return a
}

func spansNamed(exp *tracetest.InMemoryExporter, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

// One trace follows a client's message on node A through its handler and
// the publish to node B's delivery, over a real NATS server.
func TestTraceAcrossNodes(t *testing.T) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	prefix := "wshubtrace" + hex.EncodeToString(b[:])
	a, expA := tracedNode(t, "trace-a", natsAdapter(t, prefix))
	bn, expB := tracedNode(t, "trace-b", natsAdapter(t, prefix))
	wshubtest.WaitHealthy(t, a.Adapter)
	wshubtest.WaitHealthy(t, bn.Adapter)

	sender := a.Dial(t)
	listener := bn.Dial(t)
	require.NoError(t, bn.Hub.JoinRoom(listener.Client, "lobby"))
	// Node B subscribes to the room when its first member joins: say until
	// a message gets through.
	require.Eventually(t, func() bool {
		require.NoError(t, sender.Conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"say"}`)))
		return listener.Await("said", 100*time.Millisecond)
	}, 15*time.Second, time.Millisecond)

	// B's delivery, under A's publish, under A's message.
	var deliver tracetest.SpanStub
	require.Eventually(t, func() bool {
		ds := spansNamed(expB, tracing.SpanDeliver)
		if len(ds) == 0 {
			return false
		}
		deliver = ds[0]
		return true
	}, 5*time.Second, time.Millisecond)
	traceID := deliver.SpanContext.TraceID()
	assert.Equal(t, trace.SpanKindConsumer, deliver.SpanKind)
	assert.Equal(t, "trace-a", attr(deliver, "wshub.node_id"))
	assert.Equal(t, "lobby", attr(deliver, "wshub.room"))
	assert.True(t, deliver.Parent.IsRemote())

	var publish, message tracetest.SpanStub
	require.Eventually(t, func() bool {
		for _, s := range expA.GetSpans() {
			if s.SpanContext.TraceID() != traceID {
				continue
			}
			switch s.Name {
			case tracing.SpanPublish:
				publish = s
			case tracing.SpanMessage:
				message = s
			}
		}
		return publish.Name != "" && message.Name != ""
	}, 5*time.Second, time.Millisecond, "node A's spans of trace %s", traceID)
	assert.Equal(t, publish.SpanContext.SpanID(), deliver.Parent.SpanID(), "delivery under the publish")
	assert.Equal(t, message.SpanContext.SpanID(), publish.Parent.SpanID(), "publish under the message")
	assert.Equal(t, trace.SpanKindProducer, publish.SpanKind)
	assert.Equal(t, "say", attr(message, "wshub.event"))
	assert.Equal(t, sender.Client.ID, attr(message, "wshub.client_id"))
	assert.False(t, message.Parent.IsValid(), "a message starts its own trace")

	// The message links to its connection's upgrade, which ended with the
	// client registered.
	ups := spansNamed(expA, tracing.SpanUpgrade)
	require.NotEmpty(t, ups)
	require.Len(t, message.Links, 1)
	var up tracetest.SpanStub
	for _, u := range ups {
		if u.SpanContext.SpanID() == message.Links[0].SpanContext.SpanID() {
			up = u
		}
	}
	require.NotEmpty(t, up.Name, "the link names an upgrade span")
	assert.Equal(t, "Unset", up.Status.Code.String())
}

// Events without a handler are "other"; a handler's error and a panic end
// the message span with an error; the client's context carries the
// upgrade's trace and ends with the connection.
func TestMessageSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	router := core.NewRouter(typeEvent)
	router.On("fail", func(*core.Client, *core.Message) error { return core.ErrInvalidMessage })
	router.On("boom", func(*core.Client, *core.Message) error { panic("boom") })
	seen := make(chan context.Context, 1)
	router.On("ctx", func(_ *core.Client, msg *core.Message) error {
		seen <- msg.Context()
		return nil
	})
	n := wshubtest.StartHub(t, core.WithTracer(tracing.New(tp, tracing.WithRouter(router))),
		core.WithMessageHandler(router.Handle), core.WithAdapter(memory.NewBus().NewAdapter()))

	s := n.Dial(t)
	for _, m := range []string{`{"type":"ctx"}`, `{"type":"made-up"}`, `{"type":"fail"}`, `{"type":"boom"}`} {
		require.NoError(t, s.Conn.WriteMessage(websocket.TextMessage, []byte(m)))
	}
	ctx := <-seen
	require.Eventually(t, func() bool { return len(spansNamed(exp, tracing.SpanMessage)) == 4 }, 5*time.Second, time.Millisecond)
	msgs := spansNamed(exp, tracing.SpanMessage)
	assert.Equal(t, msgs[0].SpanContext.SpanID(), trace.SpanContextFromContext(ctx).SpanID(), "the message's context holds its span")
	assert.Equal(t, "Unset", msgs[0].Status.Code.String())
	assert.Equal(t, "ctx", attr(msgs[0], "wshub.event"))
	assert.Equal(t, "other", attr(msgs[1], "wshub.event"))
	assert.Equal(t, "Error", msgs[1].Status.Code.String(), "no handler: ErrInvalidMessage")
	assert.Equal(t, "Error", msgs[2].Status.Code.String())
	assert.Equal(t, "Error", msgs[3].Status.Code.String())
	assert.Equal(t, core.ErrHandlerPanicked.Error(), msgs[3].Status.Description)

	// The panic closed the connection: the client's context is done and
	// still carries the upgrade's span.
	cctx := s.Client.Context()
	require.Eventually(t, func() bool { return cctx.Err() != nil }, 5*time.Second, time.Millisecond)
	ups := spansNamed(exp, tracing.SpanUpgrade)
	require.Len(t, ups, 1)
	assert.Equal(t, ups[0].SpanContext.SpanID(), trace.SpanContextFromContext(cctx).SpanID())
}

// An upgrade refused by BeforeConnect ends its span with the error; with
// a propagator the upgrade continues the caller's trace.
func TestUpgradeSpan(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	n := wshubtest.StartHub(t, core.WithTracer(tracing.New(tp, tracing.WithPropagator(propagation.TraceContext{}))),
		core.WithHooks(core.Hooks{BeforeConnect: func(r *http.Request) error {
			if r.URL.Query().Get("deny") != "" {
				return core.ErrUnauthorized
			}
			return nil
		}}))

	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	h := http.Header{"Traceparent": {parent}}
	conn, resp, err := websocket.DefaultDialer.Dial(n.URL("/?deny=1"), h)
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.Error(t, err)
	if conn != nil {
		_ = conn.Close()
	}
	ups := spansNamed(exp, tracing.SpanUpgrade)
	require.Len(t, ups, 1)
	assert.Equal(t, "Error", ups[0].Status.Code.String())
	assert.Equal(t, "0af7651916cd43dd8448eb211c80319c", ups[0].SpanContext.TraceID().String())
	assert.Equal(t, "b7ad6b7169203331", ups[0].Parent.SpanID().String())
}
