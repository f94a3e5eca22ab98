package memory_test

import (
	"context"
	"fmt"

	"github.com/wshub/wshub/adapters/memory"
	"github.com/wshub/wshub/core"
)

func Example() {
	bus := memory.NewBus()
	a, b := bus.NewAdapter(), bus.NewAdapter() // one per hub
	defer func() { _ = a.Close() }()
	defer func() { _ = b.Close() }()

	received := make(chan core.AdapterMessage, 1) // the one message below
	ctx := context.Background()
	if err := b.Subscribe(core.WithRoomInterest(ctx), func(m core.AdapterMessage) { received <- m }); err != nil {
		fmt.Println(err)
		return
	}
	// b delivers room messages only for rooms its hub has members in.
	b.SetRoomInterest("lobby", true)

	err := a.Publish(ctx, core.AdapterMessage{NodeID: "node-a", Type: core.AdapterRoom, Room: "lobby", MsgType: 1, Data: []byte("hello")})
	if err != nil {
		fmt.Println(err)
		return
	}
	m := <-received
	fmt.Printf("%s to room %s from %s: %s\n", m.Type, m.Room, m.NodeID, m.Data)
	// Output: room to room lobby from node-a: hello
}
