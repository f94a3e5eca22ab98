package loadserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// startServer serves a Server on a loopback port until the test ends.
func startServer(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	s := New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1) // Serve's result; read in cleanup
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Error("Serve did not return")
		}
	})
	addr := ln.Addr().String()
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/ctl/stats")
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 10*time.Second, 10*time.Millisecond)
	return s, addr
}

func dial(t *testing.T, addr, query string) *websocket.Conn {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws"+query, nil)
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = ws.Close() })
	return ws
}

// readSeqs reads n messages and returns their sequence numbers.
func readSeqs(t *testing.T, ws *websocket.Conn, n, size int) []uint64 {
	t.Helper()
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(10*time.Second)))
	var seqs []uint64
	for len(seqs) < n {
		typ, b, err := ws.ReadMessage()
		require.NoError(t, err)
		assert.Equal(t, websocket.BinaryMessage, typ)
		assert.Len(t, b, size)
		seq, ts, ok := ParseHeader(b)
		require.True(t, ok)
		assert.InDelta(t, time.Now().UnixNano(), ts, float64(10*time.Second), "send time is a recent unix time")
		seqs = append(seqs, seq)
	}
	return seqs
}

func waitClients(t *testing.T, s *Server, clients int, members int64) {
	t.Helper()
	require.Eventually(t, func() bool {
		st := s.Stats(false)
		return st.Clients == clients && st.RoomMembers == members
	}, 10*time.Second, 5*time.Millisecond)
}

func TestFanoutDeliversEverySequenceNumberToEveryClient(t *testing.T) {
	s, addr := startServer(t, Config{Hub: core.Config{WriteLinger: time.Millisecond}})
	a, b := dial(t, addr, ""), dial(t, addr, "")
	waitClients(t, s, 2, 0)

	res, err := s.Run(context.Background(), RunSpec{Rate: 200, Size: 40, Duration: 100 * time.Millisecond})
	require.NoError(t, err)
	assert.Equal(t, uint64(20), res.Sent)
	assert.Equal(t, []uint64{20}, res.SentPerRoom)
	assert.False(t, res.Interrupted)
	assert.GreaterOrEqual(t, time.Duration(res.ElapsedNs), 90*time.Millisecond, "paced, not a burst")

	want := make([]uint64, 20)
	for i := range want {
		want[i] = uint64(i)
	}
	assert.Equal(t, want, readSeqs(t, a, 20, 40))
	assert.Equal(t, want, readSeqs(t, b, 20, 40))
}

func TestDistinctCopiesReachEveryClient(t *testing.T) {
	s, addr := startServer(t, Config{})
	a, b := dial(t, addr, ""), dial(t, addr, "")
	waitClients(t, s, 2, 0)
	res, err := s.Run(context.Background(), RunSpec{Rate: 1000, Size: 64, Duration: 5 * time.Millisecond, Distinct: true})
	require.NoError(t, err)
	assert.Equal(t, uint64(5), res.Sent)
	assert.Positive(t, res.MaxHeapInuseBytes)
	assert.Equal(t, []uint64{0, 1, 2, 3, 4}, readSeqs(t, a, 5, 64))
	assert.Equal(t, []uint64{0, 1, 2, 3, 4}, readSeqs(t, b, 5, 64))
	_, err = s.Run(context.Background(), RunSpec{Rate: 10, Size: 64, Duration: time.Millisecond, Distinct: true, Rooms: 2})
	require.ErrorIs(t, err, ErrInvalidSpec)
}

func TestRoomsNumberEachRoomSeparately(t *testing.T) {
	s, addr := startServer(t, Config{})
	r0, r1 := dial(t, addr, "?room=r0"), dial(t, addr, "?room=r1")
	waitClients(t, s, 2, 2)

	res, err := s.Run(context.Background(), RunSpec{Rate: 1000, Size: HeaderSize, Duration: 6 * time.Millisecond, Rooms: 3})
	require.NoError(t, err)
	assert.Equal(t, []uint64{2, 2, 2}, res.SentPerRoom)
	assert.Equal(t, []uint64{0, 1}, readSeqs(t, r0, 2, HeaderSize))
	assert.Equal(t, []uint64{0, 1}, readSeqs(t, r1, 2, HeaderSize))
}

// historyFrame is a frame of core.JSONFramer: a message or a recovery answer.
type historyFrame struct {
	Room     string `json:"room"`
	Cursor   string `json:"cursor"`
	Data     string `json:"data"`
	Recovery *struct {
		Recovered bool   `json:"recovered"`
		Replayed  int    `json:"replayed"`
		Since     string `json:"since"`
	} `json:"recovery"`
}

func readHistoryFrames(t *testing.T, ws *websocket.Conn, n int) []historyFrame {
	t.Helper()
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(10*time.Second)))
	var out []historyFrame
	for len(out) < n {
		typ, b, err := ws.ReadMessage()
		require.NoError(t, err)
		assert.Equal(t, websocket.TextMessage, typ)
		var f historyFrame
		require.NoError(t, json.Unmarshal(b, &f), "%s", b)
		out = append(out, f)
	}
	return out
}

func TestHistoryRunIsRecoveredByAReconnectingClient(t *testing.T) {
	s, addr := startServer(t, Config{HistorySize: 100})
	a := dial(t, addr, "?room=hist-0")
	waitClients(t, s, 1, 1)
	spec := RunSpec{Rate: 1000, Size: 40, Duration: 5 * time.Millisecond, Rooms: 1, History: true}
	res, err := s.Run(context.Background(), spec)
	require.NoError(t, err)
	require.Len(t, res.History, 1)
	epoch := res.History[0].Epoch
	assert.NotEmpty(t, epoch)
	assert.Equal(t, HistoryRange{Epoch: epoch, First: 1, Top: 5}, res.History[0])
	for i, f := range readHistoryFrames(t, a, 5) {
		assert.Equal(t, "hist-0", f.Room)
		assert.Equal(t, epoch+":"+strconv.Itoa(i+1), f.Cursor)
		seq, _, ok := ParseTextHeader([]byte(f.Data))
		require.True(t, ok, "data %q", f.Data)
		assert.Equal(t, uint64(i), seq)
		assert.Len(t, f.Data, 40)
	}

	// Away for the next run: the messages are stored for it all the same.
	require.NoError(t, a.Close())
	waitClients(t, s, 0, 0)
	res, err = s.Run(context.Background(), spec)
	require.NoError(t, err)
	assert.Equal(t, []HistoryRange{{Epoch: epoch, First: 6, Top: 10}}, res.History)

	b := dial(t, addr, "?room=hist-0&recover="+epoch+":3:hist-0")
	frames := readHistoryFrames(t, b, 8)
	for i, f := range frames[:7] {
		assert.Equal(t, epoch+":"+strconv.Itoa(i+4), f.Cursor, "replayed in order from the cursor")
	}
	require.NotNil(t, frames[7].Recovery, "the recovery answer comes last")
	assert.True(t, frames[7].Recovery.Recovered)
	assert.Equal(t, 7, frames[7].Recovery.Replayed)
	assert.Equal(t, epoch+":3", frames[7].Recovery.Since)
}

func TestHistoryRunNeedsHistoryRooms(t *testing.T) {
	s, addr := startServer(t, Config{})
	_, err := s.Run(context.Background(), RunSpec{Rate: 10, Size: 40, Duration: time.Millisecond, Rooms: 1, History: true})
	require.ErrorIs(t, err, ErrNoHistory)
	resp, err := http.Post("http://"+addr+"/ctl/history?rooms=1&rate=10&size=40&duration=1ms", "", nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}

func TestEchoesMessages(t *testing.T) {
	_, addr := startServer(t, Config{})
	ws := dial(t, addr, "")
	for i := 0; i < 3; i++ {
		msg := []byte("ping " + strconv.Itoa(i))
		require.NoError(t, ws.WriteMessage(websocket.TextMessage, msg))
		require.NoError(t, ws.SetReadDeadline(time.Now().Add(10*time.Second)))
		typ, got, err := ws.ReadMessage()
		require.NoError(t, err)
		assert.Equal(t, websocket.TextMessage, typ)
		assert.Equal(t, msg, got)
	}
}

func TestStatsOverHTTP(t *testing.T) {
	s, addr := startServer(t, Config{MaxClients: 7})
	dial(t, addr, "")
	waitClients(t, s, 1, 0)
	var got Stats
	require.NoError(t, getJSON("http://"+addr+"/ctl/stats?gc=1", &got))
	assert.Equal(t, 1, got.Clients)
	assert.Equal(t, 7, got.MaxClients)
	assert.Positive(t, got.RSSBytes)
	assert.Positive(t, got.Goroutines)
	assert.Positive(t, got.CPUSeconds)
}

func TestMaxClientsRefusesExtraUpgrades(t *testing.T) {
	s, addr := startServer(t, Config{MaxClients: 1})
	dial(t, addr, "")
	waitClients(t, s, 1, 0)
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws", nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, map[string]uint64{"max_connections": 1}, s.Stats(false).ErrorsByKind)
}

func TestControlAPIValidatesAndSerialisesRuns(t *testing.T) {
	s, addr := startServer(t, Config{})
	tests := []struct {
		name string
		give string
		want int
	}{
		{name: "missing rate", give: "/ctl/fanout?duration=1s", want: http.StatusBadRequest},
		{name: "size below header", give: "/ctl/fanout?rate=1&size=8&duration=1s", want: http.StatusBadRequest},
		{name: "duration too long", give: "/ctl/fanout?rate=1&duration=11m", want: http.StatusBadRequest},
		{name: "rooms without count", give: "/ctl/rooms?rate=1&duration=1s", want: http.StatusBadRequest},
		{name: "zero rooms", give: "/ctl/rooms?rooms=0&rate=1&duration=1s", want: http.StatusBadRequest},
		{name: "history without rooms", give: "/ctl/history?rate=1&size=32&duration=1s", want: http.StatusBadRequest},
		{name: "history size below text header", give: "/ctl/history?rooms=1&rate=1&size=31&duration=1s", want: http.StatusBadRequest},
		{name: "ok", give: "/ctl/fanout?rate=1000&size=16&duration=2ms", want: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post("http://"+addr+tt.give, "", nil)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			assert.Equal(t, tt.want, resp.StatusCode)
		})
	}

	// A second run while one is active is refused.
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	var first RunResult
	go func() {
		defer wg.Done()
		// The probes below may hold the slot for a moment: retry until the
		// long run is the one that is active.
		for {
			var err error
			first, err = s.Run(ctx, RunSpec{Rate: 10, Size: HeaderSize, Duration: time.Minute})
			if !errors.Is(err, ErrRunActive) || ctx.Err() != nil {
				return
			}
		}
	}()
	require.Eventually(t, func() bool {
		_, err := s.Run(context.Background(), RunSpec{Rate: 1, Size: HeaderSize, Duration: time.Millisecond})
		return errors.Is(err, ErrRunActive)
	}, 10*time.Second, time.Millisecond)
	cancel()
	wg.Wait()
	assert.True(t, first.Interrupted)
	assert.Less(t, first.Sent, uint64(600))
}

func TestServeStopsAnActiveRun(t *testing.T) {
	s := New(Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1) // Serve's result
	go func() { served <- s.Serve(ctx, ln) }()
	require.NoError(t, s.hub.WaitRunning(context.Background()))

	ran := make(chan RunResult, 1) // the run's result
	go func() {
		res, _ := s.Run(context.Background(), RunSpec{Rate: 10, Size: HeaderSize, Duration: time.Minute})
		ran <- res
	}()
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.cancelRun != nil
	}, 10*time.Second, time.Millisecond)
	cancel()
	select {
	case err := <-served:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("Serve did not stop")
	}
	assert.True(t, (<-ran).Interrupted)
	_, err = s.Run(context.Background(), RunSpec{Rate: 1, Size: HeaderSize, Duration: time.Millisecond})
	assert.ErrorIs(t, err, ErrClosed)
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return jsonDecode(resp.Body, v)
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }
