package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/loadserver"
)

// framed returns what core.JSONFramer sends for a history message whose
// payload is a text header (seq 7, sent 42) padded to 64 bytes.
func framed(room string, pos core.Position) []byte {
	data := []byte("................................................................")
	loadserver.PutTextHeader(data, 7, 42)
	_, b := core.JSONFramer{}.FrameMessage(room, pos, core.TextMessage, data)
	return b
}

func answer(room string, r core.Recovery) []byte {
	_, b, _ := core.JSONFramer{}.FrameRecovery(room, r)
	return b
}

func TestParseHistoryFrame(t *testing.T) {
	pos := core.Position{Epoch: "3f9a0c1d2e4b5a69", Offset: 17}
	tests := []struct {
		name    string
		give    []byte
		want    historyFrame
		wantErr bool
	}{
		{
			name: "message",
			give: framed("hist-3", pos),
			want: historyFrame{room: []byte("hist-3"), epoch: []byte(pos.Epoch), offset: 17, sent: 42},
		},
		{
			name: "message cut after its header",
			give: framed("hist-3", pos)[:len(`{"room":"hist-3","cursor":"3f9a0c1d2e4b5a69:17","data":"`)+loadserver.TextHeaderSize],
			want: historyFrame{room: []byte("hist-3"), epoch: []byte(pos.Epoch), offset: 17, sent: 42},
		},
		{
			name: "recovered",
			give: answer("hist-3", core.Recovery{Recovered: true, Replayed: 3, Since: pos}),
			want: historyFrame{room: []byte("hist-3"), recovery: &recoveryAnswer{Recovered: true, Replayed: 3, Since: "3f9a0c1d2e4b5a69:17"}},
		},
		{
			name: "not recovered",
			give: answer("hist-0", core.Recovery{Since: pos, Reason: core.RecoveryExpired}),
			want: historyFrame{room: []byte("hist-0"), recovery: &recoveryAnswer{Since: "3f9a0c1d2e4b5a69:17", Reason: "expired"}},
		},
		{name: "binary header", give: make([]byte, 64), wantErr: true},
		{name: "offset zero", give: []byte(`{"room":"r","cursor":"e:0","data":"` + string(make([]byte, 32)) + `"}`), wantErr: true},
		{name: "no epoch", give: []byte(`{"room":"r","cursor":":5","data":"x"}`), wantErr: true},
		{name: "no header", give: []byte(`{"room":"r","cursor":"e:5","data":"short"}`), wantErr: true},
		{name: "recovery cut short", give: []byte(`{"room":"r","recovery":{"recovered":tr`), wantErr: true},
		{name: "recovery without object", give: []byte(`{"room":"r","recovery":null}`), wantErr: true},
		{name: "other JSON", give: []byte(`{"type":"hello"}`), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseHistoryFrame(tt.give)
			if tt.wantErr {
				require.ErrorIs(t, err, errFrame)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func FuzzParseHistoryFrame(f *testing.F) {
	pos := core.Position{Epoch: "3f9a0c1d2e4b5a69", Offset: 17}
	f.Add(framed("hist-3", pos))
	f.Add(answer("hist-3", core.Recovery{Recovered: true, Replayed: 3, Since: pos}))
	f.Add([]byte(`{"room":"r","cursor":"e:18446744073709551615","data":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseHistoryFrame(b)
		if err != nil || got.recovery != nil {
			return
		}
		// A message is accepted only with a position.
		if got.offset == 0 || len(got.epoch) == 0 {
			t.Fatalf("accepted offset %d, epoch %q", got.offset, got.epoch)
		}
	})
}
