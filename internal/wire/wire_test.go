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
		"numbered":         {NodeID: "n", Type: core.AdapterBroadcast, MsgType: 1, Data: []byte("s"), Seq: core.Sequence{Instance: 0xfeedface12345678, Epoch: 1, Number: 42}},
		"numbered max":     {NodeID: "n", Type: core.AdapterRoom, Room: "r", MsgType: 2, Seq: core.Sequence{Instance: 1<<64 - 1, Epoch: 1<<64 - 1, Number: 1<<64 - 1}},
		"numbered zeroes":  {NodeID: "n", Type: core.AdapterPresence, Seq: core.Sequence{Number: 1}},
		"positioned":       {NodeID: "n", Type: core.AdapterRoom, Room: "chat:1", MsgType: 1, Data: []byte("p"), Pos: core.Position{Epoch: "3f9a0c1d2e4b5a69", Offset: 17}},
		"traced":           {NodeID: "n", Type: core.AdapterRoom, Room: "r", MsgType: 1, Data: []byte("t"), Trace: []byte{0, 1, 2, 3}},
		"traced max":       {NodeID: "n", Type: core.AdapterUser, UserID: "u", MsgType: 1, Seq: core.Sequence{Instance: 7, Epoch: 1, Number: 9}, Trace: bytes.Repeat([]byte{0xff}, core.MaxTraceContext), Pos: core.Position{Epoch: "e", Offset: 3}},
		"positioned max":   {NodeID: "n", Type: core.AdapterRoomExcept, Room: "r", ExceptClientIDs: []string{"c"}, MsgType: 1, Seq: core.Sequence{Instance: 7, Epoch: 1, Number: 9}, Pos: core.Position{Epoch: strings.Repeat("e", MaxEpochLen), Offset: 1<<64 - 1}},
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
// prefix must be rejected as malformed, never accepted and never a panic,
// except the one cut exactly where a numbered message's extension starts,
// which is a whole version 2 message without extensions (it decodes as
// unnumbered).
func TestDecodeEveryTruncation(t *testing.T) {
	t.Parallel()
	for name, m := range sampleMessages() {
		if name == "big data" || name == "many except IDs" || name == "long strings" {
			continue // covered by the cuts below; every prefix would be slow under -race
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := Append(nil, &m)
			// Cuts between extensions (written in the order sequence,
			// trace, position) leave whole messages: the ones before.
			whole := map[int]core.AdapterMessage{}
			cut := m
			cut.Seq, cut.Trace, cut.Pos = core.Sequence{}, nil, core.Position{}
			for _, add := range []func(*core.AdapterMessage){
				func(c *core.AdapterMessage) { c.Seq = m.Seq },
				func(c *core.AdapterMessage) { c.Trace = m.Trace },
			} {
				if n := Size(&cut); n < len(b) && b[0] == 2 {
					whole[n] = cut
				}
				add(&cut)
			}
			if n := Size(&cut); n < len(b) {
				whole[n] = cut
			}
			for n := range len(b) {
				got, err := Decode(b[:n])
				if w, ok := whole[n]; ok {
					require.NoError(t, err)
					assert.Equal(t, w.Seq, got.Seq)
					assert.Equal(t, w.Trace, got.Trace)
					assert.Zero(t, got.Pos)
					continue
				}
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
	for _, v := range []byte{3, 4, 255} {
		b[0] = v
		_, err := Decode(b)
		require.ErrorIs(t, err, ErrVersion, "version %d", v)
		require.NotErrorIs(t, err, ErrMalformed)
		assert.Equal(t, "version", ErrorOp(err))
		assert.True(t, strings.HasPrefix(err.Error(), "wshub: wire: "), err.Error())
	}
	// A newer version is reported even when the rest means nothing to us.
	_, err := Decode([]byte{3})
	require.ErrorIs(t, err, ErrVersion)
}

// TestVersions: a message without a sequence is written as version 1, byte
// for byte as before version 2 existed, and version 1 input still decodes;
// a numbered one is version 2.
func TestVersions(t *testing.T) {
	t.Parallel()
	plain := core.AdapterMessage{NodeID: "n1", Type: core.AdapterRoom, Room: "r", MsgType: 1, Data: []byte("hi")}
	v1 := []byte{1, 3, 1, 2, 'n', '1', 1, 'r', 1, 2, 'h', 'i'}
	assert.Equal(t, v1, Append(nil, &plain))
	got, err := Decode(v1)
	require.NoError(t, err)
	assert.Equal(t, plain, got)

	numbered := plain
	numbered.Seq = core.Sequence{Instance: 0x0102030405060708, Epoch: 1, Number: 300}
	v2 := Append(nil, &numbered)
	want := append(append([]byte{2}, v1[1:]...), extSequence, 11, 8, 7, 6, 5, 4, 3, 2, 1, 1, 0xac, 0x02)
	assert.Equal(t, want, v2)
	got, err = Decode(v2)
	require.NoError(t, err)
	assert.Equal(t, numbered, got)

	// A version 2 message needs no extension.
	got, err = Decode(append([]byte{2}, v1[1:]...))
	require.NoError(t, err)
	assert.Equal(t, plain, got)
	// Version 1 has no extensions: bytes after Data are trailing garbage.
	_, err = Decode(append(append([]byte(nil), v1...), extSequence, 0))
	require.ErrorIs(t, err, ErrMalformed)
}

// TestExtensions: unknown extensions are skipped (that is how later fields
// reach nodes of this version without breaking them), bytes a known
// extension's value has beyond its fields are ignored, and broken
// extensions are malformed.
func TestExtensions(t *testing.T) {
	t.Parallel()
	base := append([]byte{2}, Append(nil, &core.AdapterMessage{NodeID: "n", Type: core.AdapterBroadcast, MsgType: 1, Data: []byte("d")})[1:]...)
	seqValue := []byte{1, 0, 0, 0, 0, 0, 0, 0, 2, 3}
	wantSeq := core.Sequence{Instance: 1, Epoch: 2, Number: 3}
	ext := func(parts ...[]byte) []byte {
		b := append([]byte(nil), base...)
		for _, p := range parts {
			b = append(b, p...)
		}
		return b
	}
	seqExt := append([]byte{extSequence, byte(len(seqValue))}, seqValue...)
	for _, tt := range []struct {
		name    string
		give    []byte
		want    core.Sequence
		wantErr bool
	}{
		{name: "unknown only", give: ext([]byte{9, 3, 'a', 'b', 'c'})},
		{name: "unknown empty", give: ext([]byte{200, 1, 0})},
		{name: "unknown around sequence", give: ext([]byte{7, 1, 'x'}, seqExt, []byte{0x80, 0x01, 0}), want: wantSeq},
		{name: "sequence with more fields", give: ext([]byte{extSequence, byte(len(seqValue) + 2)}, seqValue, []byte{9, 9}), want: wantSeq},
		{name: "sequence twice", give: ext(seqExt, seqExt), wantErr: true},
		{name: "key zero", give: ext([]byte{0, 0}), wantErr: true},
		{name: "value beyond end", give: ext([]byte{9, 5, 'a'}), wantErr: true},
		{name: "key without length", give: ext([]byte{9}), wantErr: true},
		{name: "sequence too short", give: ext([]byte{extSequence, 7, 1, 2, 3, 4, 5, 6, 7}), wantErr: true},
		{name: "sequence number zero", give: ext([]byte{extSequence, 10, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0}), wantErr: true},
		{name: "sequence without number", give: ext([]byte{extSequence, 9, 1, 0, 0, 0, 0, 0, 0, 0, 2}), wantErr: true},
		{name: "sequence bad varint", give: ext([]byte{extSequence, 10, 1, 0, 0, 0, 0, 0, 0, 0, 0x80, 0x80}), wantErr: true},
		{name: "position", give: ext([]byte{extPosition, 3, 5, 'e', 'p'})},
		{name: "position offset zero", give: ext([]byte{extPosition, 2, 0, 'e'}), wantErr: true},
		{name: "position without epoch", give: ext([]byte{extPosition, 1, 5}), wantErr: true},
		{name: "position epoch too long", give: ext([]byte{extPosition, MaxEpochLen + 2}, []byte{5}, bytes.Repeat([]byte{'e'}, MaxEpochLen+1)), wantErr: true},
		{name: "position epoch with a colon", give: ext([]byte{extPosition, 3, 5, 'e', ':'}), wantErr: true},
		{name: "trace context", give: ext([]byte{extTrace, 2, 0xab, 0xcd})},
		{name: "trace context empty", give: ext([]byte{extTrace, 0}), wantErr: true},
		{name: "trace context too long", give: ext([]byte{extTrace}, binary.AppendUvarint(nil, core.MaxTraceContext+1), bytes.Repeat([]byte{1}, core.MaxTraceContext+1)), wantErr: true},
		{name: "trace context twice", give: ext([]byte{extTrace, 1, 1}, []byte{extTrace, 1, 2}), wantErr: true},
		{name: "position twice", give: ext([]byte{extPosition, 2, 5, 'e'}, []byte{extPosition, 2, 6, 'e'}), wantErr: true},
		{name: "position bad varint", give: ext([]byte{extPosition, 2, 0x80, 0x80}), wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode(tt.give)
			if tt.wantErr {
				require.ErrorIs(t, err, ErrMalformed)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.Seq)
			assert.Equal(t, []byte("d"), got.Data)
		})
	}
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
