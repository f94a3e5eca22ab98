package core

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// FuzzRouterDispatch feeds arbitrary client bytes through a Router with a
// JSON "type" extractor, as applications commonly build it.
func FuzzRouterDispatch(f *testing.F) {
	for _, s := range []string{`{"type":"chat","text":"hi"}`, `{"type":""}`, `{"type":1}`, `[`, ``, "\xff\xfe", `{"type":"join"}`} {
		f.Add([]byte(s))
	}
	called := map[string]int{}
	r := NewRouter(func(m *Message) string {
		var env struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(m.Data, &env) != nil {
			return ""
		}
		return env.Type
	})
	for _, e := range []string{"chat", "join"} {
		r.On(e, func(_ *Client, m *Message) error { called[e]++; return nil })
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		err := r.Handle(nil, &Message{Type: TextMessage, Data: data})
		if err != nil && !errors.Is(err, ErrInvalidMessage) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// FuzzMessageJSON decodes arbitrary client bytes with Message.JSON and
// re-encodes what decoded.
func FuzzMessageJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,2,3]`, `"s"`, `null`, `{"a":`, "\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if err := (&Message{Data: data}).JSON(&v); err != nil {
			return
		}
		m, err := NewJSONMessage(v)
		if err != nil {
			t.Fatalf("re-encoding decoded JSON failed: %v", err)
		}
		var w any
		if err := m.JSON(&w); err != nil {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}

// FuzzMiddlewareChain runs arbitrary bytes through a chain whose handler
// panics on some inputs; RecoveryMiddleware must turn every panic into
// ErrInvalidMessage.
func FuzzMiddlewareChain(f *testing.F) {
	f.Add([]byte("ok"), uint8(0))
	f.Add([]byte("panic"), uint8(1))
	f.Add([]byte{}, uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		chain := NewMiddlewareChain(func(_ *Client, m *Message) error {
			switch {
			case len(m.Data) > 0 && m.Data[0]%3 == mode%3:
				panic(fmt.Sprintf("handler panic %q", m.Data))
			case mode%2 == 1:
				return errBoom
			}
			return nil
		}).Use(RecoveryMiddleware(&NoOpLogger{})).Use(MetricsMiddleware(&NoOpMetrics{})).Use(LoggingMiddleware(&NoOpLogger{}))
		err := chain.Execute(nil, &Message{Type: TextMessage, Data: data})
		if err != nil && !errors.Is(err, ErrInvalidMessage) && !errors.Is(err, errBoom) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

// FuzzPresenceDecode decodes arbitrary bus bytes as a presence record: it
// must never panic, and what decodes must re-encode to the same record.
func FuzzPresenceDecode(f *testing.F) {
	f.Add(appendPresence(nil, &presenceRecord{kind: presenceHeartbeat, instance: "i", clients: 3, rooms: map[string]int{"a": 1}}))
	f.Add(appendPresence(nil, &presenceRecord{kind: presenceGoodbye, instance: "x"}))
	f.Add([]byte{2, 1})
	f.Add([]byte{1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := decodePresence(data)
		if err != nil {
			return
		}
		again, err := decodePresence(appendPresence(nil, &rec))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if again.instance != rec.instance || again.clients != rec.clients || len(again.rooms) != len(rec.rooms) {
			t.Fatalf("round trip changed the record: %+v vs %+v", rec, again)
		}
	})
}

// FuzzClientFrames sends arbitrary bytes as the frames of a real WebSocket
// connection after a valid handshake. The hub must never panic and must
// keep serving other clients.
func FuzzClientFrames(f *testing.F) {
	mask := []byte{1, 2, 3, 4}
	frame := func(b0 byte, payload []byte) []byte {
		out := []byte{b0, 0x80 | byte(len(payload))}
		out = append(out, mask...)
		for i, p := range payload {
			out = append(out, p^mask[i%4])
		}
		return out
	}
	f.Add(frame(0x81, []byte("hello")))
	f.Add(frame(0x88, []byte{0x03, 0xED}))                               // close with 1005
	f.Add(frame(0x89, []byte("ping")))                                   // ping
	f.Add(append(frame(0x01, []byte("a")), frame(0x80, []byte("b"))...)) // fragments
	f.Add(frame(0xC1, []byte{0xff, 0x00}))                               // RSV1 without compression
	f.Add([]byte{0x81, 0xFF, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{0x82, 0x7E, 0x00})

	h := NewHub(WithConfig(DefaultConfig().WithMaxMessageSize(4096).WithCompression(true)),
		WithMessageHandler(func(c *Client, m *Message) error { return c.Send(m.Data) }))
	go h.Run()
	if err := h.WaitRunning(contextWithTimeout(f, 5*time.Second)); err != nil {
		f.Fatal(err)
	}
	srv := httptest.NewServer(h.HandleHTTP())
	defer func() {
		_ = h.Shutdown(contextWithTimeout(f, 5*time.Second))
		srv.Close()
	}()
	addr := srv.Listener.Addr().String()

	f.Fuzz(func(t *testing.T, data []byte) {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = nc.Close() }()
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Sec-WebSocket-Version", "13")
		req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		req.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate")
		if err := req.Write(nc); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(nc)
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("handshake status %d", resp.StatusCode)
		}
		_ = nc.SetDeadline(time.Now().Add(2 * time.Second))
		_, _ = nc.Write(data)

		// The hub still serves a well-behaved client.
		conn, r2, err := websocket.DefaultDialer.Dial("ws://"+addr+"/", nil)
		if err != nil {
			t.Fatalf("hub stopped serving: %v", err)
		}
		_ = r2.Body.Close()
		defer func() { _ = conn.Close() }()
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if err := conn.WriteMessage(websocket.TextMessage, []byte("ok")); err != nil {
			t.Fatal(err)
		}
		if _, got, err := conn.ReadMessage(); err != nil || string(got) != "ok" {
			t.Fatalf("echo after fuzz input: %q %v", got, err)
		}
	})
}
