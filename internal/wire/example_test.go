package wire_test

import (
	"fmt"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/wire"
)

func ExampleAppend() {
	m := core.AdapterMessage{NodeID: "n1", Type: core.AdapterRoom, Room: "r", MsgType: 1, Data: []byte("hi")}
	b := wire.Append(nil, &m)
	fmt.Printf("% x\n", b)
	// Output: 01 03 01 02 6e 31 01 72 01 02 68 69
}

func ExampleDecode() {
	b := []byte{0x01, 0x03, 0x01, 0x02, 'n', '1', 0x01, 'r', 0x01, 0x02, 'h', 'i'}
	m, err := wire.Decode(b)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%s from %s to room %s: %s\n", m.Type, m.NodeID, m.Room, m.Data)

	_, err = wire.Decode(b[:5])
	fmt.Println(err)
	// Output:
	// room from n1 to room r: hi
	// wshub: wire: malformed message: node ID: length beyond end of input at offset 4
}
