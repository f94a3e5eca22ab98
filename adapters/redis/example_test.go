package redis_test

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wshub/wshub/adapters/redis"
	"github.com/wshub/wshub/core"
)

// Two adapters on one Redis, standing for two nodes: what one publishes,
// the other receives. A hub does the same through core.WithAdapter.
func ExampleNew() {
	ctx := context.Background()
	newNode := func() (*redis.Adapter, *goredis.Client) {
		// The client belongs to the caller, who closes it after the adapter.
		client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
		a, err := redis.New(client, redis.WithChannelPrefix("example"))
		if err != nil {
			panic(err)
		}
		return a, client
	}
	sender, c1 := newNode()
	defer func() { _ = c1.Close() }()
	defer func() { _ = sender.Close() }()
	receiver, c2 := newNode()
	defer func() { _ = c2.Close() }()
	defer func() { _ = receiver.Close() }()

	got := make(chan core.AdapterMessage, 1) // one message expected
	receiver.SetRoomInterest("lobby", true)
	// Subscribe returns once Redis has confirmed the subscription.
	if err := receiver.Subscribe(core.WithRoomInterest(ctx), func(m core.AdapterMessage) { got <- m }); err != nil {
		panic(err)
	}
	err := sender.Publish(ctx, core.AdapterMessage{
		NodeID: "node-1", Type: core.AdapterRoom, Room: "lobby",
		MsgType: int(core.TextMessage), Data: []byte("hello"),
	})
	if err != nil {
		panic(err)
	}
	select {
	case m := <-got:
		fmt.Printf("%s to room %s from %s: %s\n", m.Type, m.Room, m.NodeID, m.Data)
	case <-time.After(5 * time.Second):
		fmt.Println("nothing received")
	}
	fmt.Println(receiver.CheckHealth(ctx))
	// Output:
	// room to room lobby from node-1: hello
	// <nil>
}
