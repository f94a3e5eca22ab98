package wire

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// sampleMessages returns one message per interesting shape; the fuzz seeds
// and several tests are built from it.
func sampleMessages() map[string]core.AdapterMessage {
	many := make([]string, 1000)
	for i := range many {
		many[i] = fmt.Sprintf("client-%d", i)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	return map[string]core.AdapterMessage{
		"zero":             {},
		"broadcast":        {NodeID: "node-1", Type: core.AdapterBroadcast, MsgType: 1, Data: []byte("hello")},
		"broadcast except": {NodeID: "node-1", Type: core.AdapterBroadcastExcept, ExceptClientIDs: []string{"a", "b"}, MsgType: 2, Data: []byte{0, 1, 2}},
		"room":             {NodeID: "node-1", Type: core.AdapterRoom, Room: "lobby", MsgType: 1, Data: []byte(`{"x":1}`)},
		"room except":      {NodeID: "n", Type: core.AdapterRoomExcept, Room: "r", ExceptClientIDs: []string{"c1"}, MsgType: 1, Data: []byte("x")},
		"user":             {NodeID: "n", Type: core.AdapterUser, UserID: "alice", MsgType: 1, Data: []byte("u")},
		"client":           {NodeID: "n", Type: core.AdapterClient, ClientID: "c-42", MsgType: 2, Data: []byte("c")},
		"presence":         {NodeID: "n", Type: core.AdapterPresence, Data: []byte(`{"clients":3}`)},
		"unknown type":     {NodeID: "n", Type: "custom_op", Room: "r", UserID: "u", ClientID: "c", MsgType: 7, Data: []byte("?")},
		"empty type":       {NodeID: "n", MsgType: 1},
		"all fields":       {NodeID: "node", Type: core.AdapterRoomExcept, Room: "room", UserID: "user", ClientID: "client", ExceptClientIDs: []string{"x", "", "y"}, MsgType: 1, Data: []byte("all")},
		"empty except ID":  {NodeID: "n", Type: core.AdapterBroadcastExcept, ExceptClientIDs: []string{""}, MsgType: 1},
		"negative msgtype": {NodeID: "n", Type: core.AdapterBroadcast, MsgType: -1, Data: []byte("neg")},
		"binary strings":   {NodeID: "\x00\xff", Type: core.AdapterRoom, Room: "\x80\x80", MsgType: 2, Data: []byte{0xff}},
		"long strings":     {NodeID: strings.Repeat("n", 300), Type: core.AdapterRoom, Room: strings.Repeat("r", 20000), MsgType: 1, Data: []byte("d")},
		"many except IDs":  {NodeID: "n", Type: core.AdapterBroadcastExcept, ExceptClientIDs: many, MsgType: 1, Data: []byte("m")},
		"big data":         {NodeID: "n", Type: core.AdapterRoom, Room: "big", MsgType: 2, Data: big},
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for name, give := range sampleMessages() {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := Append(nil, &give)
			assert.Len(t, b, Size(&give), "Size must match Append")

			got, err := Decode(b)
			require.NoError(t, err)
			want := give
			if len(want.Data) == 0 {
				want.Data = nil
			}
			if len(want.ExceptClientIDs) == 0 {
				want.ExceptClientIDs = nil
			}
			assert.Equal(t, want, got)
		})
	}
}

func TestEmptyAndNilDecodeAsNil(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give core.AdapterMessage
	}{
		{core.AdapterMessage{NodeID: "n", Type: core.AdapterBroadcast, Data: nil, ExceptClientIDs: nil}},
		{core.AdapterMessage{NodeID: "n", Type: core.AdapterBroadcast, Data: []byte{}, ExceptClientIDs: []string{}}},
	}
	var encodings [][]byte
	for _, tt := range tests {
		b := Append(nil, &tt.give)
		encodings = append(encodings, b)
		got, err := Decode(b)
		require.NoError(t, err)
		assert.Nil(t, got.Data)
		assert.Nil(t, got.ExceptClientIDs)
	}
	assert.Equal(t, encodings[0], encodings[1], "nil and empty encode alike")
}

func TestAppendAppendsToDst(t *testing.T) {
	t.Parallel()
	m := core.AdapterMessage{NodeID: "n", Type: core.AdapterRoom, Room: "r", MsgType: 1, Data: []byte("hi")}
	prefix := []byte("prefix")
	b := Append(append([]byte(nil), prefix...), &m)
	require.True(t, bytes.HasPrefix(b, prefix))
	got, err := Decode(b[len(prefix):])
	require.NoError(t, err)
	assert.Equal(t, m, got)
}

func TestDecodeDoesNotAlias(t *testing.T) {
	t.Parallel()
	m := core.AdapterMessage{NodeID: "node", Type: "other", Room: "room", UserID: "u", ClientID: "c",
		ExceptClientIDs: []string{"e1", "e2"}, MsgType: 1, Data: []byte("payload")}
	b := Append(nil, &m)
	got, err := Decode(b)
	require.NoError(t, err)
	for i := range b { // the receiver reuses its buffer
		b[i] = 0xAA
	}
	assert.Equal(t, m, got)
}

func TestExampleLayout(t *testing.T) {
	t.Parallel()
	// The example in doc.go.
	m := core.AdapterMessage{NodeID: "n1", Type: core.AdapterRoom, Room: "r", MsgType: 1, Data: []byte("hi")}
	want := []byte{0x01, 0x03, 0x01, 0x02, 'n', '1', 0x01, 'r', 0x01, 0x02, 'h', 'i'}
	assert.Equal(t, want, Append(nil, &m))
}

func TestDecodeMalformed(t *testing.T) {
	t.Parallel()
	valid := Append(nil, &core.AdapterMessage{NodeID: "n", Type: core.AdapterRoom, Room: "r", MsgType: 1, Data: []byte("d")})
	huge := binary.AppendUvarint(nil, 1<<62)
	tests := []struct {
		name string
		give []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"version 0", []byte{0, 1, 0, 0, 0, 0}},
		{"header only", []byte{1}},
		{"header without flags", []byte{1, 1}},
		{"unknown type code", []byte{1, 8, 0, 0, 0, 0}},
		{"type code 255", []byte{1, 255, 0, 0, 0, 0}},
		{"reserved flag", []byte{1, 1, 0x10, 0, 0, 0}},
		{"all flags", []byte{1, 1, 0xff, 0, 0, 0}},
		{"trailing byte", append(append([]byte(nil), valid...), 0)},
		{"node length past end", []byte{1, 1, 0, 5, 'a'}},
		{"huge node length", append([]byte{1, 1, 0}, huge...)},
		{"overlong varint", []byte{1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"other type name past end", []byte{1, 0, 0, 9, 'x'}},
		{"too many except IDs", []byte{1, 2, flagExcept, 0, 0x7f, 0, 0, 0, 0}},
		{"huge except count", append([]byte{1, 2, flagExcept, 0}, huge...)},
		{"except ID past end", []byte{1, 2, flagExcept, 0, 1, 9, 0, 0}},
		{"missing msg type", []byte{1, 1, 0, 0}},
		{"missing data", []byte{1, 1, 0, 0, 1}},
		{"data past end", []byte{1, 1, 0, 0, 1, 3, 'a'}},
		{"huge data length", append([]byte{1, 1, 0, 0, 1}, huge...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Decode(tt.give)
			require.ErrorIs(t, err, ErrMalformed)
			require.NotErrorIs(t, err, ErrVersion)
			assert.Equal(t, "decode", ErrorOp(err))
			assert.Zero(t, got)
			assert.True(t, strings.HasPrefix(err.Error(), "wshub: wire: "), err.Error())
		})
	}
}

// TestDecodeEveryTruncation cuts every valid sample at every length: each
// prefix must be rejected as malformed, never accepted and never a panic.
func TestDecodeEveryTruncation(t *testing.T) {
	t.Parallel()
	for name, m := range sampleMessages() {
		if name == "big data" || name == "many except IDs" || name == "long strings" {
			continue // covered by the cuts below; every prefix would be slow under -race
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := Append(nil, &m)
			for n := range len(b) {
				_, err := Decode(b[:n])
				require.ErrorIs(t, err, ErrMalformed, "prefix of %d of %d bytes", n, len(b))
			}
		})
	}
	t.Run("large samples, selected cuts", func(t *testing.T) {
		t.Parallel()
		for _, name := range []string{"big data", "many except IDs", "long strings"} {
			m := sampleMessages()[name]
			b := Append(nil, &m)
			for _, n := range []int{0, 1, 2, 3, 4, 5, 6, 100, len(b) / 2, len(b) - 2, len(b) - 1} {
				_, err := Decode(b[:n])
				require.ErrorIs(t, err, ErrMalformed, "%s: prefix of %d of %d bytes", name, n, len(b))
			}
		}
	})
}

func TestDecodeVersion(t *testing.T) {
	t.Parallel()
	b := Append(nil, &core.AdapterMessage{NodeID: "n", Type: core.AdapterBroadcast, Data: []byte("x")})
	for _, v := range []byte{2, 3, 255} {
		b[0] = v
		_, err := Decode(b)
		require.ErrorIs(t, err, ErrVersion, "version %d", v)
		require.NotErrorIs(t, err, ErrMalformed)
		assert.Equal(t, "version", ErrorOp(err))
		assert.True(t, strings.HasPrefix(err.Error(), "wshub: wire: "), err.Error())
	}
	// A newer version is reported even when the rest means nothing to us.
	_, err := Decode([]byte{2})
	require.ErrorIs(t, err, ErrVersion)
}

func TestFlaggedEmptyFieldsAccepted(t *testing.T) {
	t.Parallel()
	// Flags set for an empty room and an empty except list: not what Append
	// writes, but documented as accepted.
	b := []byte{1, codeRoom, flagRoom | flagExcept, 1, 'n', 0, 0, 1, 0}
	got, err := Decode(b)
	require.NoError(t, err)
	assert.Equal(t, core.AdapterMessage{NodeID: "n", Type: core.AdapterRoom, MsgType: 1}, got)
}

func TestAllocations(t *testing.T) {
	m := core.AdapterMessage{NodeID: "node-1", Type: core.AdapterRoomExcept, Room: "room", ExceptClientIDs: []string{"a", "b"},
		MsgType: 1, Data: make([]byte, 128)}
	buf := make([]byte, 0, Size(&m))
	allocs := testing.AllocsPerRun(100, func() { buf = Append(buf[:0], &m) })
	assert.Zero(t, allocs, "Append into a buffer with capacity")

	b := Append(nil, &m)
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := Decode(b); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 3.0, "one for strings, one for Data, one for the except slice")
}

func TestErrorsAreDistinct(t *testing.T) {
	t.Parallel()
	assert.NotErrorIs(t, ErrMalformed, ErrVersion)
}
