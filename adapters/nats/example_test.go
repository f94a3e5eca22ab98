package nats_test

import (
	"context"
	"fmt"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"

	"github.com/wshub/wshub/adapters/nats"
	"github.com/wshub/wshub/core"
)

// Two nodes, each with its own connection, exchange a room message. In an
// application the hub makes these calls: pass the adapter to
// core.WithAdapter.
func ExampleNew() {
	prefix := "example." + nuid.Next() // isolates this run on a shared broker
	connect := func() *natsgo.Conn {
		nc, err := natsgo.Connect("nats://127.0.0.1:4222",
			natsgo.RetryOnFailedConnect(true), natsgo.MaxReconnects(-1))
		if err != nil {
			panic(err)
		}
		return nc
	}
	ncA, ncB := connect(), connect()
	defer ncA.Close() // the caller owns the connections
	defer ncB.Close()

	a, err := nats.New(ncA, nats.WithSubjectPrefix(prefix))
	if err != nil {
		panic(err)
	}
	defer func() { _ = a.Close() }() // always nil
	b, err := nats.New(ncB, nats.WithSubjectPrefix(prefix))
	if err != nil {
		panic(err)
	}
	defer func() { _ = b.Close() }() // always nil

	got := make(chan core.AdapterMessage, 1) // one message expected
	b.SetRoomInterest("lobby", true)         // B has members in "lobby"
	if err := b.Subscribe(core.WithRoomInterest(context.Background()), func(m core.AdapterMessage) { got <- m }); err != nil {
		panic(err)
	}

	err = a.Publish(context.Background(), core.AdapterMessage{
		NodeID: "node-a", Type: core.AdapterRoom, Room: "lobby",
		MsgType: int(core.TextMessage), Data: []byte("hello"),
	})
	if err != nil {
		panic(err)
	}
	select {
	case m := <-got:
		fmt.Printf("%s from %s in %s: %s\n", m.Type, m.NodeID, m.Room, m.Data)
	case <-time.After(5 * time.Second):
		fmt.Println("nothing received")
	}
	// Output: room from node-a in lobby: hello
}
