package redis

import (
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/wire"
)

// FuzzDeliver feeds arbitrary payloads, as they could arrive on a channel,
// to the receiver's delivery step: it must never panic, and each payload
// must end either in the handler or in exactly one reported error.
//
//	go test -run '^$' -fuzz FuzzDeliver -fuzztime 30s ./adapters/redis/
func FuzzDeliver(f *testing.F) {
	f.Add(wire.Append(nil, &core.AdapterMessage{NodeID: "n", Type: core.AdapterRoom, Room: "r", MsgType: 1, Data: []byte("hi")}))
	f.Add([]byte{})
	f.Add([]byte{2, 1, 0})

	// New neither dials nor starts goroutines, so the client stays idle.
	client := goredis.NewClient(&goredis.Options{Addr: sharedAddr})
	f.Cleanup(func() { _ = client.Close() })
	a, err := New(client)
	if err != nil {
		f.Fatal(err)
	}
	var handled, reported int
	var lastOp string
	a.handler = func(core.AdapterMessage) { handled++ }
	a.SetErrorReporter(func(e *core.AdapterError) { reported++; lastOp = e.Op })

	f.Fuzz(func(t *testing.T, payload []byte) {
		handled, reported, lastOp = 0, 0, ""
		a.deliver(&goredis.Message{Channel: "c", Payload: string(payload)})
		if handled+reported != 1 {
			t.Fatalf("payload %x: handled %d times, reported %d times", payload, handled, reported)
		}
		_, derr := wire.Decode(payload)
		if (derr == nil) != (handled == 1) {
			t.Fatalf("payload %x: Decode error %v but handled %d", payload, derr, handled)
		}
		if reported == 1 && lastOp != "decode" && lastOp != "version" {
			t.Fatalf("payload %x: reported as %q", payload, lastOp)
		}
	})
}
