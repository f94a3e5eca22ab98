package core

import (
	"io"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = ln.Close() }()
	type res struct {
		c   net.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ln.Accept()
		ch <- res{c, err}
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	r := <-ch
	require.NoError(t, r.err)
	t.Cleanup(func() { _ = r.c.Close(); _ = client.Close() })
	return r.c, client
}

// newBufPool returns a pool of read buffers of size bytes.
func newBufPool(size int) *sync.Pool {
	p := &sync.Pool{}
	p.New = func() any { b := make([]byte, size); return &b }
	return p
}

func TestFrameReaderIdleHoldsNoBuffer(t *testing.T) {
	if !rawReadsSupported {
		t.Skip("no raw socket reads on this platform")
	}
	server, client := tcpPair(t)
	pool := newBufPool(minReadBuffer)
	fr := newFrameReader(server, minReadBuffer)
	fr.useIdlePool(rawConnOf(server), pool)
	require.NotNil(t, fr.idle, "a TCP socket allows raw reads")

	// A frame in two pieces, and a payload longer than the buffer, which
	// is read straight into its destination.
	big := make([]byte, 3*minReadBuffer)
	for i := range big {
		big[i] = byte(i)
	}
	wire := append(frameBytes(0x81, []byte("hello")), frameBytes(0x82, big)...)
	done := make(chan error, 1)
	go func() {
		if _, err := client.Write(wire[:3]); err != nil {
			done <- err
			return
		}
		_, err := client.Write(wire[3:])
		done <- err
	}()
	h, err := fr.header()
	require.NoError(t, err)
	require.Equal(t, byte(opText), h.opcode)
	p := make([]byte, h.length)
	require.NoError(t, fr.payload(p, h.key, 0))
	require.Equal(t, "hello", string(p))
	h, err = fr.header()
	require.NoError(t, err)
	p = make([]byte, h.length)
	require.NoError(t, fr.payload(p, h.key, 0))
	require.Equal(t, big, p)
	require.NoError(t, <-done)

	// Everything read was used: waiting for more holds no buffer, and a
	// passed deadline comes back as a timeout, as from a net.Conn read.
	require.NoError(t, server.SetReadDeadline(time.Now().Add(20*time.Millisecond)))
	_, err = fr.header()
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	require.True(t, ne.Timeout())
	require.ErrorIs(t, err, os.ErrDeadlineExceeded)
	require.Nil(t, fr.buf, "a reader waiting for input holds no buffer")
	require.Nil(t, fr.idle.bufp)

	// The peer closing is io.EOF.
	require.NoError(t, server.SetReadDeadline(time.Time{}))
	require.NoError(t, client.Close())
	_, err = fr.header()
	require.ErrorIs(t, err, io.EOF)
	require.Nil(t, fr.buf)
}

func TestFrameReaderIdleClosedSocket(t *testing.T) {
	if !rawReadsSupported {
		t.Skip("no raw socket reads on this platform")
	}
	server, _ := tcpPair(t)
	fr := newFrameReader(server, minReadBuffer)
	fr.useIdlePool(rawConnOf(server), newBufPool(minReadBuffer))
	require.NoError(t, server.Close())
	_, err := fr.header()
	require.ErrorIs(t, err, net.ErrClosed)
}

func TestFrameReaderKeepsBufferWithoutRawConn(t *testing.T) {
	fr := newFrameReader(&chunkReader{data: frameBytes(0x81, []byte("hi")), chunk: 1}, minReadBuffer)
	fr.useIdlePool(rawConnOf(fr.src), newBufPool(minReadBuffer))
	require.Nil(t, fr.idle, "a reader that is not a socket keeps its buffer")
	h, err := fr.header()
	require.NoError(t, err)
	require.Equal(t, int64(2), h.length)
}
