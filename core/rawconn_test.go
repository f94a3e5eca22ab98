package core

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rawConn is a client that writes WebSocket frames byte by byte, so tests
// can send what no well-behaved client library would.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

// rawDial opens a connection to srv and completes the handshake, offering
// permessage-deflate when deflate is set.
func rawDial(t testing.TB, srv *httptest.Server, deflate bool) *rawConn {
	t.Helper()
	addr := srv.Listener.Addr().String()
	nc, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	require.NoError(t, err)
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if deflate {
		req.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate; client_no_context_takeover; server_no_context_takeover")
	}
	require.NoError(t, req.Write(nc))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusSwitchingProtocols, resp.StatusCode)
	if deflate {
		require.Contains(t, resp.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
	}
	return &rawConn{t: t, nc: nc, br: br}
}

// rawMask is the masking key of every frame a rawConn writes.
var rawMask = [4]byte{0x37, 0xfa, 0x21, 0x3d}

// frameBytes encodes a masked client frame; b0 holds FIN, RSV and opcode.
func frameBytes(b0 byte, payload []byte) []byte {
	out := []byte{b0}
	switch n := len(payload); {
	case n <= 125:
		out = append(out, 0x80|byte(n))
	case n <= 0xffff:
		out = append(out, 0x80|126, byte(n>>8), byte(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	out = append(out, rawMask[:]...)
	for i, p := range payload {
		out = append(out, p^rawMask[i%4])
	}
	return out
}

func (rc *rawConn) write(b []byte) {
	rc.t.Helper()
	require.NoError(rc.t, rc.nc.SetWriteDeadline(time.Now().Add(5*time.Second)))
	_, err := rc.nc.Write(b)
	require.NoError(rc.t, err)
}

// frame writes one masked frame.
func (rc *rawConn) frame(b0 byte, payload []byte) { rc.t.Helper(); rc.write(frameBytes(b0, payload)) }

// serverFrame is one frame the server sent.
type serverFrame struct {
	fin     bool
	rsv1    bool
	opcode  byte
	payload []byte
}

// next reads one server frame within the deadline.
func (rc *rawConn) next(deadline time.Duration) (serverFrame, error) {
	var f serverFrame
	_ = rc.nc.SetReadDeadline(time.Now().Add(deadline))
	var hdr [2]byte
	if _, err := io.ReadFull(rc.br, hdr[:]); err != nil {
		return f, err
	}
	f.fin, f.rsv1, f.opcode = hdr[0]&0x80 != 0, hdr[0]&0x40 != 0, hdr[0]&0x0f
	n := uint64(hdr[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		if _, err := io.ReadFull(rc.br, b[:]); err != nil {
			return f, err
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err := io.ReadFull(rc.br, b[:]); err != nil {
			return f, err
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	f.payload = make([]byte, n)
	_, err := io.ReadFull(rc.br, f.payload)
	return f, err
}

// readClose reads frames until the server's close frame and returns its
// code (1005 for an empty one) and reason; it fails the test if the
// connection ends without one. Pings are answered, as a live client does.
func (rc *rawConn) readClose() (int, string) {
	rc.t.Helper()
	for {
		f, err := rc.next(10 * time.Second)
		require.NoError(rc.t, err, "the connection ended without a close frame")
		switch f.opcode {
		case opClose:
			if len(f.payload) < 2 {
				return 1005, ""
			}
			return int(binary.BigEndian.Uint16(f.payload)), string(f.payload[2:])
		case opPing:
			rc.frame(0x80|opPong, f.payload)
		}
	}
}

// deflate compresses data as a permessage-deflate message body.
func deflate(t testing.TB, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	fw, err := flate.NewWriter(&b, flate.BestSpeed)
	require.NoError(t, err)
	_, err = fw.Write(data)
	require.NoError(t, err)
	require.NoError(t, fw.Flush())
	out := b.Bytes()
	require.True(t, bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}))
	return out[:len(out)-4]
}

// closeCodes is a MetricsCollector that also counts close codes.
type closeCodes struct {
	*DebugMetrics
	mu    sync.Mutex
	codes map[int]int
}

func newCloseCodes() *closeCodes {
	return &closeCodes{DebugMetrics: NewDebugMetrics(), codes: map[int]int{}}
}

func (m *closeCodes) IncrementCloseCode(code int) {
	m.mu.Lock()
	m.codes[code]++
	m.mu.Unlock()
}

func (m *closeCodes) count(code int) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.codes[code]
}

func (m *closeCodes) errors(kind string) int64 { return m.Stats().Errors[kind] }

// splitUTF8 returns s cut in the middle of its first multi-byte rune.
func splitUTF8(s string) (string, string) {
	i := strings.IndexFunc(s, func(r rune) bool { return r > 0x7f })
	return s[:i+1], s[i+1:]
}

// pumpGoroutines counts the goroutines running a client's read or write
// pump, so that a test can see a connection's goroutines end.
func pumpGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	return bytes.Count(buf, []byte("core.(*Client).readPump(")) + bytes.Count(buf, []byte("core.(*Client).writePump("))
}
