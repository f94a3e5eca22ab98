package wshubfx_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lockedBuffer is a bytes.Buffer that concurrent writers share: a
// process's stderr, log calls.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// clientResult is what one client saw until its connection ended.
type clientResult struct {
	received  int   // messages in order before the close frame
	outOfSeq  error // first message out of order, if any
	closeCode int   // close code received, 0 if none
	err       error // the read error that ended it when it was no close frame
}

// TestSIGTERMDrainsAndExitsZero runs internal/sigtermapp as a separate
// process, has it queue messages for several clients that do not read,
// sends it SIGTERM and checks that readiness turned 503 while it drained,
// that every queued message arrived before a 1001 close frame, and that the
// process exited 0 within its stop timeout.
func TestSIGTERMDrainsAndExitsZero(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a separate process")
	}
	const (
		clients     = 3
		messages    = 1500
		size        = 4096 // 6 MB per client: more than loopback buffers hold
		stopTimeout = 8 * time.Second
	)
	gobin, err := exec.LookPath("go")
	require.NoError(t, err, "the go command is needed to build the app")
	bin := filepath.Join(t.TempDir(), "sigtermapp")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command(gobin, append(args, "./internal/sigtermapp")...)
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-admin", "127.0.0.1:0",
		"-stop-timeout", stopTimeout.String(), "-drain-timeout", "2s", "-queue", "4096")
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	exited := make(chan struct{}) // closed when cmd.Wait returned
	var waitErr error             // cmd.Wait's result, read after exited
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	// The app prints its bound addresses once it listens.
	lines := bufio.NewScanner(stdout)
	require.True(t, lines.Scan(), "no LISTENING line; stderr:\n%s", stderr.String())
	var wsAddr, adminAddr string
	_, err = fmt.Sscanf(lines.Text(), "LISTENING ws=%s admin=%s", &wsAddr, &adminAddr)
	require.NoError(t, err, "line %q", lines.Text())

	// Clients with a small receive buffer, so the server's queue cannot
	// drain into the kernel while they do not read.
	dialer := websocket.Dialer{NetDialContext: (&net.Dialer{Control: smallReceiveBuffer}).DialContext}
	conns := make([]*websocket.Conn, clients)
	for i := range conns {
		conn, resp, err := dialer.Dial("ws://"+wsAddr+"/ws", nil)
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		conns[i] = conn
	}
	require.Eventually(t, func() bool { return readiness(adminAddr).Clients == clients }, waitFor, tick)

	hc := &http.Client{Timeout: waitFor}
	resp, err := hc.Post(fmt.Sprintf("http://%s/flood?n=%d&size=%d", wsAddr, messages, size), "text/plain", nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	// Every message is queued for every client. Stop the process.
	sigterm := time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))

	// Readiness turns 503 (draining) and stays reachable on the admin
	// server; the clients hold the drain open as they do not read yet.
	var drained probeResult
	require.Eventually(t, func() bool {
		drained = readiness(adminAddr)
		return drained.Code == http.StatusServiceUnavailable && drained.State == "draining"
	}, waitFor, tick, "stderr:\n%s", stderr.String())
	assert.Equal(t, clients, drained.Clients, "no client was dropped yet")
	t.Logf("readiness 503 (draining) %v after SIGTERM", time.Since(sigterm))
	// The main server stops accepting while the drain runs (the clients,
	// which do not read yet, hold it open). Readiness turns first: the
	// listener closes right after, so a dial may still land in between.
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", wsAddr, time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err != nil
	}, waitFor, tick, "the main server still accepts connections during the drain")

	// Now read: every message in order, then a 1001 close frame.
	results := make([]clientResult, clients)
	var wg sync.WaitGroup
	for i, conn := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = readAll(conn, stopTimeout+waitFor)
		}()
	}
	wg.Wait()
	for i, r := range results {
		require.NoError(t, r.outOfSeq, "client %d", i)
		assert.Equal(t, messages, r.received, "client %d: every queued message arrived", i)
		assert.Equal(t, websocket.CloseGoingAway, r.closeCode, "client %d: close code (read error %v)", i, r.err)
	}

	select {
	case <-exited:
		require.NoError(t, waitErr, "exit status; stderr:\n%s", stderr.String())
		t.Logf("exited 0 %v after SIGTERM", time.Since(sigterm))
		assert.Less(t, time.Since(sigterm), stopTimeout+5*time.Second, "exited within the stop timeout")
	case <-time.After(stopTimeout + waitFor):
		t.Fatalf("the process did not exit; stderr:\n%s", stderr.String())
	}
	assert.NotContains(t, stderr.String(), `"level":"error"`)
}

// smallReceiveBuffer sets SO_RCVBUF to 16 KiB (which also turns off the
// kernel's receive-buffer autotuning for the socket).
func smallReceiveBuffer(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10)
	}); err != nil {
		return err
	}
	return serr
}

type probeResult struct {
	Code    int
	State   string `json:"state"`
	Clients int    `json:"clients"`
}

// readiness fetches the admin server's /readyz; errors yield a zero result.
func readiness(adminAddr string) probeResult {
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+adminAddr+"/readyz", nil)
	if err != nil {
		return probeResult{}
	}
	resp, err := (&http.Client{Timeout: waitFor}).Do(req)
	if err != nil {
		return probeResult{}
	}
	defer func() { _ = resp.Body.Close() }()
	r := probeResult{Code: resp.StatusCode}
	_ = json.NewDecoder(resp.Body).Decode(&r)
	return r
}

// readAll reads numbered messages until the connection ends.
func readAll(conn *websocket.Conn, limit time.Duration) clientResult {
	var r clientResult
	_ = conn.SetReadDeadline(time.Now().Add(limit))
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				r.closeCode = ce.Code
			} else {
				r.err = err
			}
			return r
		}
		want := fmt.Sprintf("seq:%012d|", r.received)
		if !strings.HasPrefix(string(data), want) && r.outOfSeq == nil {
			r.outOfSeq = fmt.Errorf("message %d starts %.17q", r.received, data)
		}
		r.received++
	}
}
