//go:build unix

package core

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fdChildEnv marks the process TestConnectionsRefusedAtFileLimit starts.
const fdChildEnv = "WSHUB_TEST_FD_CHILD"

// A node whose open-file limit is 256 and whose Limits leave MaxConnections
// zero refuses upgrades past the derived cap with 503 at once, instead of
// hanging them in accept, and its clients keep their round trips. The hub
// runs in a child process, since the limit is process-wide.
func TestConnectionsRefusedAtFileLimit(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileLimitChild$", "-test.v")
	cmd.Env = append(os.Environ(), fdChildEnv+"=1")
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	defer func() {
		_ = stdin.Close() // the child stops when its stdin closes
		assert.NoError(t, cmd.Wait())
	}()

	var addr string
	var limit int
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if n, _ := fmt.Sscanf(sc.Text(), "serving %s cap %d", &addr, &limit); n == 2 {
			break
		}
	}
	require.NotEmpty(t, addr, "the child did not start")
	go func() { // drain the rest of the child's output
		for sc.Scan() {
		}
	}()
	assert.Equal(t, 192, limit, "256 files leave 192 connections")

	url := "ws://" + addr + "/"
	conns := make([]*websocket.Conn, limit)
	for i := range conns {
		conn, resp, err := websocket.DefaultDialer.Dial(url, nil)
		require.NoError(t, err, "connection %d of %d", i, limit)
		_ = resp.Body.Close()
		defer func() { _ = conn.Close() }()
		conns[i] = conn
	}
	roundTrip := func(conn *websocket.Conn) time.Duration {
		start := time.Now()
		require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte("hi")))
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
		_, got, err := conn.ReadMessage()
		require.NoError(t, err)
		require.Equal(t, "hi", string(got))
		return time.Since(start)
	}
	var before latencies
	for _, c := range conns[:20] {
		before.add(roundTrip(c))
	}

	// 100 more: past the 256 files, had the hub accepted them.
	for i := 0; i < 100; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		conn, resp, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
		cancel()
		if conn != nil {
			_ = conn.Close()
		}
		require.Error(t, err, "upgrade %d past the cap", i)
		require.NotNil(t, resp, "upgrade %d past the cap got no HTTP answer: %v", i, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	}
	var after latencies
	for _, c := range conns {
		after.add(roundTrip(c))
	}
	t.Logf("echo p99 %v before the refusals, %v after, over %d clients", before.p99(), after.p99(), len(conns))
	assert.Less(t, after.p99(), time.Second)
}

// TestFileLimitChild is the child of TestConnectionsRefusedAtFileLimit: a
// hub under an open-file limit of 256.
func TestFileLimitChild(t *testing.T) {
	if os.Getenv(fdChildEnv) == "" {
		t.Skip("started by TestConnectionsRefusedAtFileLimit")
	}
	var rl syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl))
	rl.Cur = 256
	require.NoError(t, syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl))

	h := NewHub(WithMessageHandler(func(c *Client, m *Message) error { return c.Send(m.Data) }))
	go h.Run()
	require.NoError(t, h.WaitRunning(contextWithTimeout(t, 5*time.Second)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h.HandleHTTP(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("serving %s cap %d\n", ln.Addr(), h.MaxConnections())

	_, _ = os.Stdin.Read(make([]byte, 1)) // until the parent closes it
	require.NoError(t, h.Shutdown(contextWithTimeout(t, 10*time.Second)))
	require.NoError(t, srv.Shutdown(contextWithTimeout(t, 5*time.Second)))
}
