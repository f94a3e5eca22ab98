package core

import (
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// 200 clients each start a 128 KiB fragmented message and never finish it,
// while they answer pings. What the hub holds for them stays within
// MaxInboundBytes (the clients past it are closed with 1013), the rest are
// closed with 1008 once MessageReadTimeout is over, and a well-behaved client
// keeps its round trips meanwhile. All of them are connected before any
// starts its message, so that the messages overlap in time however slowly
// the machine dials: dialed one after another while the earlier ones sent,
// the first clients' timeouts ran out before the last ones' bytes came, and
// the bound was never reached. The messages are small because the race
// detector makes every byte a hub reads into fresh memory slow: 200 clients
// of 500 KiB took 40 s on a 2-core VM, most of it in its shadow memory.
func TestUnfinishedMessagesStayWithinInboundBound(t *testing.T) {
	const (
		clients   = 200
		fragment  = 32 << 10
		fragments = 4
		bound     = 2 << 20
		timeout   = 2 * time.Second
	)
	m := newCloseCodes()
	cfg := DefaultConfig().WithMaxInboundBytes(bound).WithMessageReadTimeout(timeout).
		WithTimeouts(10*time.Second, time.Minute, 300*time.Millisecond)
	h, srv := startHub(t, WithConfig(cfg), WithMetrics(m),
		WithMessageHandler(func(c *Client, msg *Message) error { return c.Send(msg.Data) }))
	echo, _ := dialWait(t, h, srv)

	codes := make(chan int, clients)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	// Every client sends the same frames: built once, the race detector
	// does not make each client's copy cost the other clients' CPU.
	first, more := frameBytes(opBinary, make([]byte, fragment)), frameBytes(opContinuation, make([]byte, fragment))
	for i := 0; i < clients; i++ {
		rc := rawDial(t, srv, false)
		wg.Add(2)
		go func() { // the message that never ends
			defer wg.Done()
			<-gate
			for f := 0; f < fragments; f++ {
				frame := more
				if f == 0 {
					frame = first
				}
				_ = rc.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if _, err := rc.nc.Write(frame); err != nil {
					return // closed for the bound already
				}
			}
		}()
		go func() { // answers pings until the close frame
			defer wg.Done()
			for {
				f, err := rc.next(15 * time.Second)
				if err != nil {
					codes <- 0
					return
				}
				switch f.opcode {
				case opPing:
					_, _ = rc.nc.Write(frameBytes(0x80|opPong, f.payload))
				case opClose:
					codes <- closeCodeOf(f.payload)
					return
				}
			}
		}()
	}

	require.Eventually(t, func() bool { return h.ClientCount() == clients+1 }, 10*time.Second, time.Millisecond)
	close(gate)

	var maxUsed int64
	var rtts latencies
	sample := time.NewTicker(20 * time.Millisecond)
	defer sample.Stop()
	for len(codes) < clients {
		maxUsed = max(maxUsed, h.inbound.used.Load())
		start := time.Now()
		require.NoError(t, echo.WriteMessage(websocket.TextMessage, []byte("ping?")))
		_, got := read(t, echo)
		require.Equal(t, "ping?", got)
		rtts.add(time.Since(start))
		<-sample.C
	}
	wg.Wait()
	close(codes)
	byCode := map[int]int{}
	for c := range codes {
		byCode[c]++
	}
	t.Logf("close codes: %v; max held %d KiB of %d; echo p99 %v over %d round trips",
		byCode, maxUsed>>10, bound>>10, rtts.p99(), rtts.len())

	assert.LessOrEqual(t, maxUsed, int64(bound))
	assert.Equal(t, clients, byCode[websocket.CloseTryAgainLater]+byCode[websocket.ClosePolicyViolation],
		"every client closed with 1013 or 1008: %v", byCode)
	assert.Positive(t, byCode[websocket.CloseTryAgainLater], "the bound was reached")
	assert.Positive(t, byCode[websocket.ClosePolicyViolation], "the timeout closed the rest")
	assert.Equal(t, int64(byCode[websocket.CloseTryAgainLater]), m.errors("inbound_memory"))
	assert.Equal(t, int64(byCode[websocket.ClosePolicyViolation]), m.errors("message_timeout"))
	require.Eventually(t, func() bool { return h.ClientCount() == 1 }, 10*time.Second, time.Millisecond)
	assert.Zero(t, h.inbound.used.Load(), "every reservation was given back")
	assert.Less(t, rtts.p99(), time.Second, "the echo client kept its round trips")
}

// A message that arrives slowly but within MessageReadTimeout is delivered,
// and pongs in the middle of it do not extend its deadline past the
// timeout.
func TestMessageReadTimeout(t *testing.T) {
	got := make(chan []byte, 1)
	cfg := DefaultConfig().WithMessageReadTimeout(500 * time.Millisecond)
	h, srv := startHub(t, WithConfig(cfg), WithMessageHandler(func(_ *Client, m *Message) error { got <- m.Data; return nil }))
	rc := rawDial(t, srv, false)
	require.Eventually(t, func() bool { return h.ClientCount() == 1 }, 5*time.Second, time.Millisecond)

	rc.frame(0x01, []byte("in "))
	rc.frame(0x8A, nil) // an unsolicited pong, as keep-alive
	rc.frame(0x80, []byte("time"))
	select {
	case d := <-got:
		assert.Equal(t, "in time", string(d))
	case <-time.After(5 * time.Second):
		t.Fatal("message not delivered")
	}

	start := time.Now()
	rc.frame(0x01, []byte("never "))
	done := make(chan struct{})
	go func() { // pongs keep coming, the message never ends
		defer close(done)
		tk := time.NewTicker(50 * time.Millisecond)
		defer tk.Stop()
		for i := 0; i < 40; i++ {
			<-tk.C
			if _, err := rc.nc.Write(frameBytes(0x8A, nil)); err != nil {
				return
			}
		}
	}()
	code, _ := rc.readClose()
	assert.Equal(t, websocket.ClosePolicyViolation, code)
	assert.Less(t, time.Since(start), 5*time.Second)
	<-done
}

// A close frame in the middle of a fragmented message gives back what the
// message held of the hub's inbound budget.
func TestInboundBudgetGivenBackOnCloseMidMessage(t *testing.T) {
	h, srv := startHub(t)
	for i := 0; i < 3; i++ {
		rc := rawDial(t, srv, false)
		rc.frame(opBinary, make([]byte, 100<<10)) // no FIN
		rc.frame(0x80|opClose, []byte{0x03, 0xe8})
		code, _ := rc.readClose()
		assert.Equal(t, websocket.CloseNormalClosure, code)
		_ = rc.nc.Close()
	}
	require.Eventually(t, func() bool { return h.ClientCount() == 0 }, 5*time.Second, time.Millisecond)
	assert.Zero(t, h.inbound.used.Load())
}

// A frame header alone does not make the hub allocate or reserve the length
// it announces: four headers announcing 512 KiB each hold a few chunks of a
// 2 MiB budget, and another client's 8 KiB message goes through.
func TestAnnouncedLengthIsNotReservedAhead(t *testing.T) {
	got := make(chan int, 1)
	h, srv := startHub(t, WithConfig(DefaultConfig().WithMaxInboundBytes(2<<20)),
		WithMessageHandler(func(_ *Client, m *Message) error { got <- len(m.Data); return nil }))
	for i := 0; i < 4; i++ {
		rc := rawDial(t, srv, false)
		hdr := []byte{0x82, 0x80 | 127}
		hdr = binary.BigEndian.AppendUint64(hdr, 512<<10)
		rc.write(append(hdr, rawMask[:]...))
	}
	require.Eventually(t, func() bool { return h.inbound.used.Load() == 4*inboundChunk }, 5*time.Second, time.Millisecond)
	rc := rawDial(t, srv, false)
	rc.frame(0x82, make([]byte, 8<<10))
	select {
	case n := <-got:
		assert.Equal(t, 8<<10, n)
	case <-time.After(5 * time.Second):
		t.Fatal("the message was not handled")
	}
}

// A MaxMessageSize meant as "no limit" works: compressed messages go
// through, and a header announcing 2^50 bytes makes the hub hold one chunk,
// not the 2^50 bytes (an allocation that large would panic).
func TestHugeMaxMessageSize(t *testing.T) {
	got := make(chan string, 1)
	cfg := DefaultConfig().WithMaxMessageSize(1<<63 - 1).WithCompression(true).WithMaxInboundBytes(1 << 62)
	h, srv := startHub(t, WithConfig(cfg), WithMessageHandler(func(_ *Client, m *Message) error { got <- string(m.Data); return nil }))
	rc := rawDial(t, srv, true)
	rc.frame(0xC1, deflate(t, []byte("hello")))
	select {
	case s := <-got:
		assert.Equal(t, "hello", s)
	case <-time.After(5 * time.Second):
		t.Fatal("compressed message not delivered")
	}
	hdr := []byte{0x82, 0x80 | 127}
	hdr = binary.BigEndian.AppendUint64(hdr, 1<<50)
	rc.write(append(hdr, rawMask[:]...))
	rc.write(make([]byte, 100)) // some of it
	require.Eventually(t, func() bool { return h.inbound.used.Load() == inboundChunk }, 5*time.Second, time.Millisecond)
	assert.Equal(t, 1, h.ClientCount())
}
