package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/wshub/wshub/internal/loadserver"
)

// TestMain removes the built binary after the tests and then checks for
// leaked goroutines (what goleak.VerifyTestMain does, plus the cleanup).
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "loadtest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// The binary is built once for all tests; build records the outcome.
var (
	binDir    string
	buildOnce sync.Once
	binPath   string
	build     struct {
		err error
		out []byte
	}
)

// binary builds the loadtest command once per test run (with -race when the
// tests run with it, so the tool's own concurrency is checked too).
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binPath = filepath.Join(binDir, "loadtest")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, ".")...)
		build.out, build.err = cmd.CombinedOutput()
	})
	require.NoError(t, build.err, "go build: %s", build.out)
	return binPath
}

// runTool runs the binary with args under a deadline and returns stdout,
// stderr and the exit code.
func runTool(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code = 0
	if err != nil {
		var ee *exec.ExitError
		require.ErrorAs(t, err, &ee, "run %v: stderr: %s", args, errb.String())
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

func parseResult(t *testing.T, stdout string) result {
	t.Helper()
	var line string
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "RESULT ") {
			require.Empty(t, line, "more than one RESULT line")
			line = strings.TrimPrefix(l, "RESULT ")
		}
	}
	require.NotEmpty(t, line, "no RESULT line in:\n%s", stdout)
	var r result
	require.NoError(t, json.Unmarshal([]byte(line), &r))
	return r
}

func TestScenarios(t *testing.T) {
	tests := []struct {
		name  string
		give  []string
		check func(t *testing.T, r result)
	}{
		{
			name: "fanout",
			give: []string{"-scenario", "fanout", "-clients", "20", "-rate", "50", "-duration", "1s", "-linger", "1ms"},
			check: func(t *testing.T, r result) {
				assert.Equal(t, uint64(50), r.Sent)
				assert.EqualValues(t, 50*20, r.Expected)
				assert.Equal(t, r.Expected, r.Delivered)
				assert.Positive(t, r.LatencyMs.P99)
				assert.Positive(t, r.Server.CPUUsPerDelivery)
			},
		},
		{
			name: "fanout over two worker processes",
			give: []string{"-scenario", "fanout", "-clients", "20", "-procs", "2", "-rate", "20", "-duration", "1s"},
			check: func(t *testing.T, r result) {
				assert.Equal(t, 2, r.Procs)
				assert.EqualValues(t, 20*20, r.Expected)
				assert.Equal(t, r.Expected, r.Delivered)
				assert.Positive(t, r.Generator.CPUSeconds)
			},
		},
		{
			name: "fanout with slow readers closed by the server",
			give: []string{"-scenario", "fanout", "-clients", "20", "-slow", "5", "-slow-read", "500ms", "-distinct",
				"-size", "65536", "-rate", "40", "-duration", "2s", "-policy", "disconnect", "-max-queued", "1"},
			check: func(t *testing.T, r result) {
				// The fast clients get everything; the slow ones are left out.
				assert.EqualValues(t, 80*15, r.Expected)
				assert.Equal(t, r.Expected, r.Delivered)
				require.NotNil(t, r.Slow)
				assert.Equal(t, 5, r.Slow.Clients)
				assert.Equal(t, 5, r.Slow.Closed, "every slow reader saw the server's 1013")
				assert.EqualValues(t, 5, r.Slow.ServerClosed)
				assert.Positive(t, r.Server.MaxHeapInuseBytes)
			},
		},
		{
			name: "rooms",
			give: []string{"-scenario", "rooms", "-clients", "20", "-rooms", "4", "-rate", "40", "-duration", "1s"},
			check: func(t *testing.T, r result) {
				// 40 messages over 4 rooms of 5 clients: 10 per room, 5 recipients each.
				assert.EqualValues(t, 40*5, r.Expected)
				assert.Equal(t, r.Expected, r.Delivered)
			},
		},
		{
			name: "recovery",
			give: []string{"-scenario", "recovery", "-clients", "20", "-rooms", "4", "-rate", "20", "-duration", "2s",
				"-gap", "200ms", "-drop-every", "300ms"},
			check: func(t *testing.T, r result) {
				// 20 msg/s in each of 4 rooms of 5 clients for 2 s, each
				// client dropping about every 300 ms: everything reaches
				// everyone, once, through the recoveries.
				assert.EqualValues(t, 160, r.Sent)
				assert.EqualValues(t, 160*5, r.Expected)
				assert.Equal(t, r.Expected, r.Delivered)
				require.NotNil(t, r.Recovery)
				assert.Positive(t, r.Recovery.Drops)
				assert.Positive(t, r.Recovery.Recoveries)
				assert.Zero(t, r.Recovery.Gaps, "unrecovered: %v", r.Recovery.Reasons)
				assert.Zero(t, r.Recovery.Unrecovered)
				assert.Positive(t, r.Recovery.TimeMs.P99)
				assert.Equal(t, 20, r.Connected)
			},
		},
		{
			name: "recovery beyond the history kept",
			give: []string{"-scenario", "recovery", "-clients", "20", "-rooms", "4", "-rate", "20", "-duration", "2s",
				"-gap", "1s", "-drop-every", "300ms", "-history", "3"},
			check: func(t *testing.T, r result) {
				// Rooms keep 3 messages, 150 ms' worth: a client away for
				// longer cannot recover, and the answer says so.
				require.NotNil(t, r.Recovery)
				assert.Positive(t, r.Recovery.Gaps)
				assert.Positive(t, r.Recovery.Reasons["expired"])
				assert.Equal(t, r.Expected, r.Delivered+r.Recovery.Unrecovered, "every message received or owned up to")
			},
		},
		{
			name: "echo",
			give: []string{"-scenario", "echo", "-clients", "20", "-duration", "1s"},
			check: func(t *testing.T, r result) {
				assert.Equal(t, r.Expected, r.Delivered, "every message sent got its echo")
				assert.Positive(t, r.DeliveredPerSec)
			},
		},
		{
			name: "request",
			give: []string{"-scenario", "request", "-clients", "20", "-duration", "1s"},
			check: func(t *testing.T, r result) {
				assert.Positive(t, r.Expected)
				assert.Equal(t, r.Expected, r.Delivered, "every request sent got its reply")
				assert.Zero(t, r.Dupes, "no frame but the replies")
				assert.Positive(t, r.DeliveredPerSec)
			},
		},
		{
			name: "connect",
			give: []string{"-scenario", "connect", "-clients", "20", "-hold", "100ms"},
			check: func(t *testing.T, r result) {
				assert.Equal(t, 20, r.Connected)
				assert.Positive(t, r.ConnPerSec)
				assert.InDelta(t, 1.0, r.Server.GoroutinesPerConn, 0.5, "one reader per idle connection")
				assert.Positive(t, r.Server.RSSBytesPerConn)
			},
		},
		{
			name: "churn",
			give: []string{"-scenario", "churn", "-clients", "10", "-rate", "40", "-duration", "1s"},
			check: func(t *testing.T, r result) {
				require.NotNil(t, r.Churn)
				assert.Positive(t, r.Churn.Connects)
				assert.Zero(t, r.Churn.ClientsAfter, "every churned client left the server")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := runTool(t, append(tt.give, "-progress=false", "-grace", "3s")...)
			require.Zero(t, code, "stderr:\n%s\nstdout:\n%s", stderr, stdout)
			r := parseResult(t, stdout)
			assert.Equal(t, tt.give[1], r.Scenario)
			assert.Positive(t, r.Delivered)
			assert.Zero(t, r.Lost, "lost messages")
			assert.Zero(t, r.Dupes)
			assert.Zero(t, r.Errors, "errors: %v", r.ErrorSamples)
			assert.True(t, r.Server.Available)
			tt.check(t, r)
		})
	}
}

// TestRecoveryInProcess runs the recovery scenario's generator in this
// process against a loadserver served here too, so that the race detector
// sees both and TestMain's leak check covers the clients' goroutines.
func TestRecoveryInProcess(t *testing.T) {
	t.Parallel()
	srv := loadserver.New(loadserver.Config{HistorySize: 1000})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1) // Serve's result, read below
	go func() { served <- srv.Serve(ctx, ln) }()
	defer func() {
		cancel()
		assert.NoError(t, <-served)
	}()

	var stdout, stderr bytes.Buffer
	code := run([]string{"-scenario", "recovery", "-url", "ws://" + ln.Addr().String() + "/ws",
		"-clients", "12", "-rooms", "3", "-rate", "25", "-duration", "2s",
		"-gap", "100ms", "-drop-every", "200ms", "-grace", "3s", "-progress=false"}, nil, &stdout, &stderr)
	require.Zero(t, code, "stderr:\n%s\nstdout:\n%s", stderr.String(), stdout.String())
	r := parseResult(t, stdout.String())
	assert.EqualValues(t, 3*25*2*4, r.Expected, "every message of its room, for every client")
	assert.Equal(t, r.Expected, r.Delivered)
	assert.Zero(t, r.Lost)
	assert.Zero(t, r.Dupes)
	assert.Zero(t, r.Errors, "errors: %v", r.ErrorSamples)
	require.NotNil(t, r.Recovery)
	assert.Positive(t, r.Recovery.Recoveries)
	assert.Zero(t, r.Recovery.Gaps, "unrecovered: %v", r.Recovery.Reasons)
	assert.Positive(t, r.Recovery.TimeMs.P50)
}

func TestRefusals(t *testing.T) {
	// The counts follow this machine's hard open-file limit, which the tool
	// raises to and which its server child inherits, so each case is just
	// over what the machine can take wherever the test runs. Both refusals
	// come before any connection is made.
	var lim syscall.Rlimit
	require.NoError(t, syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim))
	hard := int(lim.Max)
	overGenerator := hard - generatorFDMargin + 1
	overServer := serverCapacity(lim.Max) + 1
	tests := []struct {
		name     string
		give     []string
		wantCode int
		wantErr  string
		overFD   bool // the case needs more clients than this machine's limit
	}{
		{
			name:     "more clients than one generator process may open",
			overFD:   true,
			give:     []string{"-scenario", "connect", "-clients", strconv.Itoa(overGenerator)},
			wantCode: 1,
			wantErr:  "use -procs 2",
		},
		{
			name:     "more clients than the server may hold",
			overFD:   true,
			give:     []string{"-scenario", "connect", "-clients", strconv.Itoa(overServer), "-procs", "2"},
			wantCode: 1,
			wantErr:  fmt.Sprintf("this machine cannot take %d clients on one server", overServer),
		},
		{
			name:     "not a loopback target",
			give:     []string{"-url", "ws://192.0.2.1:80/ws"},
			wantCode: 2,
			wantErr:  "not a loopback address",
		},
		{
			name:     "slow readers outside fanout",
			give:     []string{"-scenario", "echo", "-slow", "1"},
			wantCode: 2,
			wantErr:  "-slow and -distinct apply to the fanout scenario",
		},
		{
			name:     "recovery messages too small for the text header",
			give:     []string{"-scenario", "recovery", "-size", "16"},
			wantCode: 2,
			wantErr:  "-size must be at least 32 for recovery",
		},
		{
			name:     "unknown drop policy",
			give:     []string{"-policy", "drop-all"},
			wantCode: 2,
			wantErr:  "-policy must be newest, oldest or disconnect",
		},
		{
			name:     "unknown scenario",
			give:     []string{"-scenario", "flood"},
			wantCode: 2,
			wantErr:  "unknown -scenario",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.overFD && overServer > maxClients {
				t.Skipf("the hard open-file limit %d is above -clients' own bound %d; TestCapacityChecks covers the arithmetic", hard, maxClients)
			}
			_, stderr, code := runTool(t, tt.give...)
			assert.Equal(t, tt.wantCode, code, "stderr: %s", stderr)
			assert.Contains(t, stderr, tt.wantErr)
		})
	}
}

func TestCapacityChecks(t *testing.T) {
	const limit = 20_000
	require.NoError(t, checkGeneratorCapacity(limit-generatorFDMargin, 1, limit))
	err := checkGeneratorCapacity(limit-generatorFDMargin+1, 1, limit)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "use -procs 2")
	err = checkGeneratorCapacity(50_000, 1, limit)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "use -procs 3")
	require.NoError(t, checkGeneratorCapacity(50_000, 3, limit))
	err = checkGeneratorCapacity(1, 1, generatorFDMargin)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "leaves no room")

	assert.Equal(t, limit-serverFDMargin, serverCapacity(limit))
	assert.Zero(t, serverCapacity(serverFDMargin))
}

// -h says what the tool is and lists the flags a person sets, not those a
// generator passes to the processes it starts.
func TestHelpHidesInternalFlags(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run([]string{"-h"}, strings.NewReader(""), &stdout, &stderr))
	help := stderr.String()
	assert.True(t, strings.HasPrefix(help, "loadtest: measures a wshub server"), help)
	assert.Contains(t, help, "-scenario string")
	assert.Contains(t, help, `(default "fanout")`)
	for name := range internalFlags {
		assert.NotContains(t, help, "-"+name+" ", "internal flag shown")
		assert.NotContains(t, help, "-"+name+"\n", "internal flag shown")
	}
	// They still parse.
	o, err := parseFlags([]string{"-serve", "-exit-on-eof"}, &stderr)
	require.NoError(t, err)
	assert.True(t, o.exitOnEOF)
}
