package tracing

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/trace"

	"github.com/wshub/wshub/core"
)

func sampleContext(t testing.TB, state string) trace.SpanContext {
	t.Helper()
	ts, err := trace.ParseTraceState(state)
	require.NoError(t, err)
	return trace.NewSpanContext(trace.SpanContextConfig{
		TraceID:    trace.TraceID{0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80, 0x31, 0x9c},
		SpanID:     trace.SpanID{0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31},
		TraceFlags: trace.FlagsSampled,
		TraceState: ts,
	})
}

func TestContextRoundTrip(t *testing.T) {
	for _, state := range []string{"", "vendor=abc,other=x-y"} {
		sc := sampleContext(t, state)
		b := appendContext(nil, sc)
		assert.LessOrEqual(t, len(b), core.MaxTraceContext)
		got, ok := decodeContext(b)
		require.True(t, ok)
		assert.Equal(t, sc.TraceID(), got.TraceID())
		assert.Equal(t, sc.SpanID(), got.SpanID())
		assert.Equal(t, sc.TraceFlags(), got.TraceFlags())
		assert.Equal(t, sc.TraceState().String(), got.TraceState().String())
		assert.True(t, got.IsRemote())
	}
}

// A tracestate that does not fit on the bus is left out; the rest goes.
func TestContextDropsLongTraceState(t *testing.T) {
	var members []string
	for i := range 30 {
		members = append(members, "k"+strings.Repeat("x", 3)+string(rune('a'+i%26))+string(rune('a'+i/26))+"="+strings.Repeat("v", 20))
	}
	sc := sampleContext(t, strings.Join(members, ","))
	require.Greater(t, len(sc.TraceState().String()), maxState)
	b := appendContext(nil, sc)
	assert.Len(t, b, ctxHeader)
	got, ok := decodeContext(b)
	require.True(t, ok)
	assert.Equal(t, sc.SpanID(), got.SpanID())
	assert.Zero(t, got.TraceState().Len())
}

func TestDecodeContextRejects(t *testing.T) {
	valid := appendContext(nil, sampleContext(t, ""))
	for name, give := range map[string][]byte{
		"empty":         nil,
		"short":         valid[:ctxHeader-1],
		"version 2":     append([]byte{2}, valid[1:]...),
		"zero trace ID": append(append([]byte{1}, make([]byte, 16)...), valid[17:]...),
		"zero span ID":  append(append(append([]byte{}, valid[:17]...), make([]byte, 8)...), valid[25:]...),
	} {
		_, ok := decodeContext(give)
		assert.False(t, ok, name)
	}
	// A tracestate that does not parse is dropped, the context kept.
	got, ok := decodeContext(append(bytes.Clone(valid), "not a tracestate"...))
	require.True(t, ok)
	assert.Zero(t, got.TraceState().Len())
}

// FuzzDecodeContext: bus trace contexts come from other nodes, or from
// anything that can publish on the bus: decoding never panics, and what
// decodes encodes back to the same header.
func FuzzDecodeContext(f *testing.F) {
	f.Add(appendContext(nil, sampleContext(f, "")))
	f.Add(appendContext(nil, sampleContext(f, "a=b")))
	f.Add([]byte{1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		sc, ok := decodeContext(b)
		if !ok {
			return
		}
		again := appendContext(nil, sc)
		require.Equal(t, b[:ctxHeader-1], again[:ctxHeader-1])
		require.LessOrEqual(t, len(again), core.MaxTraceContext)
	})
}
