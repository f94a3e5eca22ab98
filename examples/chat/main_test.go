package main

import (
	"flag"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestUsage: -h prints what the program is, how to use it, then every
// flag, under the fixed name "chat".
func TestUsage(t *testing.T) {
	fs := flag.NewFlagSet("chat-from-go-run-12345", flag.ContinueOnError)
	var out strings.Builder
	fs.SetOutput(&out)
	fs.Usage = func() { usage(fs) }
	var s settings
	defineFlags(fs, &s)
	require.ErrorIs(t, fs.Parse([]string{"-h"}), flag.ErrHelp)

	text := out.String()
	require.True(t, strings.HasPrefix(text,
		"chat: wshub's example chat server, rooms and nicknames, one node or several over NATS/Redis.\n\n"+
			"Open http://localhost:8080 (or -addr), or send over WebSocket at ws://localhost:8080/ws:\n"+
			`  {"type":"join","room":"lobby","nick":"ann"}`+"\n"),
		"the usage starts with what chat is, where to open it and a message:\n%s", text)
	header, flags, ok := strings.Cut(text, "\nUsage: chat [flags]\n")
	require.True(t, ok, "no usage line after the header:\n%s", text)
	assert.NotContains(t, header, "go-run", "the name is fixed")
	for _, name := range []string{"-addr", "-node", "-nats", "-redis", "-v"} {
		assert.Contains(t, flags, "  "+name, "flag %s is listed after the usage line", name)
	}
	assert.Contains(t, flags, `(default ":8080")`)
}
