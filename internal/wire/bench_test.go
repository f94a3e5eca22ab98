package wire

import (
	"encoding/json"
	"testing"

	"github.com/wshub/wshub/core"
)

// benchMessage is a typical room message: 128-byte payload.
func benchMessage() core.AdapterMessage {
	data := make([]byte, 128)
	for i := range data {
		data[i] = 'a' + byte(i%26)
	}
	return core.AdapterMessage{NodeID: "node-7f3a9c", Type: core.AdapterRoom, Room: "room-42", MsgType: 1, Data: data}
}

func BenchmarkAppend(b *testing.B) {
	m := benchMessage()
	buf := make([]byte, 0, Size(&m))
	b.ReportAllocs()
	b.SetBytes(int64(Size(&m)))
	for b.Loop() {
		buf = Append(buf[:0], &m)
	}
}

func BenchmarkDecode(b *testing.B) {
	m := benchMessage()
	enc := Append(nil, &m)
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONMarshal(b *testing.B) {
	m := benchMessage()
	enc, _ := json.Marshal(&m)
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := json.Marshal(&m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONUnmarshal(b *testing.B) {
	m := benchMessage()
	enc, err := json.Marshal(&m)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		var out core.AdapterMessage
		if err := json.Unmarshal(enc, &out); err != nil {
			b.Fatal(err)
		}
	}
}
