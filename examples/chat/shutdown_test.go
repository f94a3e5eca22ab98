package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// listeningRE finds the main server's address in the chat's log.
var listeningRE = regexp.MustCompile(`\twshub\.fx\t.*\tlistening\s+\{"server": "main", "addr": "([^"]+)"\}`)

// warningRE finds a warning or an error in the chat's log (zap's
// development encoding).
var warningRE = regexp.MustCompile(`\t(WARN|ERROR)\t`)

// The first run of the README: the chat on one node, a tab open (an idle
// WebSocket, plus a spare connection a browser opens ahead and never
// uses), then Ctrl-C. The process exits 0 in well under a second and logs
// no warning.
func TestFirstRunCtrlCExitsPromptlyAndQuietly(t *testing.T) {
	p := startChat(t)
	spare, err := net.Dial("tcp", p.addr) // never sends a request
	require.NoError(t, err)
	defer func() { _ = spare.Close() }()
	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+p.addr+"/ws", nil)
	require.NoError(t, err)
	_ = resp.Body.Close()
	defer func() { _ = ws.Close() }()
	// The hub has registered the page once it answers a frame from it.
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"nope"}`)))
	require.NoError(t, ws.SetReadDeadline(time.Now().Add(time.Minute)))
	_, _, err = ws.ReadMessage()
	require.NoError(t, err)
	wsClosed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				wsClosed <- err
				return
			}
		}
	}()

	p.interruptAndCheck(t)
	assert.True(t, websocket.IsCloseError(<-wsClosed, websocket.CloseGoingAway), "the page is told the server goes away")
	require.NoError(t, spare.SetReadDeadline(time.Now().Add(5*time.Second)))
	_, err = spare.Read(make([]byte, 1))
	assert.True(t, errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET), "spare connection closed: %v", err)
}

// The same with a real browser tab, which joined a room: Chromium opens
// its own spare connections.
func TestBrowserCtrlCExitsPromptlyAndQuietly(t *testing.T) {
	chromium := findChromium(t)
	p := startChat(t)
	page := newBrowser(t, chromium)
	openPage(page, t, "http://"+p.addr)
	join(page, t, "ann", "lobby")
	p.interruptAndCheck(t)
	waitJS(page, t, `logText().includes("disconnected (1001")`)
}

// chatProcess is the chat binary running with a free port.
type chatProcess struct {
	cmd    *exec.Cmd
	addr   string
	logs   *lockedBuffer
	exited chan error // Wait's result, once
	waited bool       // exited was received from
}

// startChat builds the chat and starts it on a free loopback port; cleanup
// kills it if the test did not stop it.
func startChat(t *testing.T) *chatProcess {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the chat binary")
	}
	bin := filepath.Join(t.TempDir(), "chat")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	p := &chatProcess{cmd: exec.Command(bin, "-addr", "127.0.0.1:0"), logs: &lockedBuffer{}, exited: make(chan error, 1)}
	stderr, err := p.cmd.StderrPipe()
	require.NoError(t, err)
	p.cmd.Stdout = p.logs
	require.NoError(t, p.cmd.Start())
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			_, _ = p.logs.Write([]byte(line + "\n"))
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				addr <- m[1]
			}
		}
		p.exited <- p.cmd.Wait() // after the pipe is drained, as Wait requires
	}()
	t.Cleanup(func() {
		if !p.waited {
			_ = p.cmd.Process.Kill()
			t.Logf("chat killed: %v", <-p.exited)
		}
	})
	select {
	case p.addr = <-addr:
	case err := <-p.exited:
		p.waited = true
		t.Fatalf("chat exited before listening: %v\n%s", err, p.logs.String())
	case <-time.After(time.Minute):
		t.Fatalf("chat did not listen within a minute\n%s", p.logs.String())
	}
	return p
}

// interruptAndCheck sends SIGINT, as Ctrl-C does, and checks that the chat
// exits 0 within a second without logging a warning or an error.
func (p *chatProcess) interruptAndCheck(t *testing.T) {
	t.Helper()
	start := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGINT))
	var err error
	select {
	case err = <-p.exited:
		p.waited = true
	case <-time.After(30 * time.Second):
		t.Fatalf("chat still running 30 s after SIGINT\n%s", p.logs.String())
	}
	took := time.Since(start)
	require.NoError(t, err, "exit status\n%s", p.logs.String())
	assert.Less(t, took, time.Second, "Ctrl-C with an idle tab open\n%s", p.logs.String())
	assert.NotRegexp(t, warningRE, p.logs.String())
	t.Logf("exit 0, %v after SIGINT", took.Round(time.Millisecond))
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers and readers.
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
