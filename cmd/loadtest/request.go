package main

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// requestLoop is echoLoop with requests: it sends a request, waits for its
// reply, and repeats until Finish. The request is a masked text frame
// built once per client, {"type":"echo","id":N,"p":"..."} padded to -size
// bytes, whose 16-digit id is rewritten in place each time (IDs start at
// 10^15 so that all have 16 digits).
func (g *localGroup) requestLoop(c *wsClient) {
	defer g.wg.Done()
	const firstID = 1_000_000_000_000_000
	const head = `{"type":"echo","id":`
	body := []byte(head + strconv.FormatUint(firstID, 10) + `,"p":"`)
	idOff := len(head)
	for len(body)+2 < g.spec.Size {
		body = append(body, 'x')
	}
	body = append(body, `"}`...)
	frame, off, key := newMaskedFrame(websocket.TextMessage, body, uint32(rand.Uint64()))
	for seq := uint64(0); !g.stopping.Load(); seq++ {
		id := strconv.AppendUint(nil, firstID+seq, 10)
		for i, b := range id {
			j := idOff + i
			frame[off+j] = b ^ key[j&3]
		}
		sent := time.Now().UnixNano()
		if _, err := c.nc.Write(frame); err != nil {
			g.lost(c, err)
			return
		}
		c.sent.Add(1)
		for {
			_, r, err := c.ws.NextReader()
			if err != nil {
				g.lost(c, err)
				return
			}
			n, _ := r.Read(c.buf)
			if !bytes.HasPrefix(c.buf[:n], []byte(`{"id":`+string(id)+`,"result":`)) {
				c.dupes.Add(1) // not the reply we wait for
				continue
			}
			now := time.Now().UnixNano()
			g.hist.record(c.idx, now-sent)
			c.unique.Add(1)
			c.lastRecv.Store(now)
			break
		}
	}
}

// newMaskedFrame builds a client frame of opcode op with payload masked by
// mask, and returns it with the payload's offset and the mask key.
func newMaskedFrame(op int, payload []byte, mask uint32) (frame []byte, off int, key [4]byte) {
	key = [4]byte{byte(mask >> 24), byte(mask >> 16), byte(mask >> 8), byte(mask)}
	frame = append(frame, 0x80|byte(op))
	switch size := len(payload); {
	case size <= 125:
		frame = append(frame, 0x80|byte(size))
	case size <= 0xFFFF:
		frame = append(frame, 0x80|126, byte(size>>8), byte(size))
	default:
		frame = append(frame, 0x80|127, 0, 0, 0, 0, byte(size>>24), byte(size>>16), byte(size>>8), byte(size))
	}
	frame = append(frame, key[:]...)
	off = len(frame)
	for i, b := range payload {
		frame = append(frame, b^key[i&3])
	}
	return frame, off, key
}
