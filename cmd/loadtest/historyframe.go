package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wshub/wshub/internal/loadserver"
)

// The frames of core.JSONFramer, as a client of a history room receives
// them:
//
//	{"room":"hist-3","cursor":"<epoch>:<offset>","data":"<text header>...."}
//	{"room":"hist-3","recovery":{"recovered":true,"replayed":7,"since":"<epoch>:<offset>"}}
const (
	framePrefix = `{"room":"`
	cursorKey   = `,"cursor":"`
	dataKey     = `,"data":`
	recoveryKey = `,"recovery":`
)

// errFrame wraps every reason parseHistoryFrame refuses a frame.
var errFrame = errors.New("not a history frame")

// historyFrame is a parsed frame: a message with its position and send
// time, or a recovery answer.
type historyFrame struct {
	room   []byte // aliases the parsed buffer
	epoch  []byte // aliases the parsed buffer
	offset uint64
	sent   int64 // unix nanoseconds, from the message's text header

	recovery *recoveryAnswer // nil for a message
}

// recoveryAnswer is the "recovery" object of an answer.
type recoveryAnswer struct {
	Recovered bool   `json:"recovered"`
	Replayed  int    `json:"replayed"`
	Since     string `json:"since"`
	Reason    string `json:"reason"`
}

// parseHistoryFrame reads a frame. A message frame may be cut short after
// its text header (the reader keeps only the start of long messages); a
// recovery answer must be whole. Errors wrap errFrame.
func parseHistoryFrame(b []byte) (historyFrame, error) {
	var f historyFrame
	rest, ok := bytes.CutPrefix(b, []byte(framePrefix))
	if !ok {
		return f, fmt.Errorf("%w: %.60q", errFrame, b)
	}
	i := bytes.IndexByte(rest, '"')
	if i < 0 {
		return f, fmt.Errorf("%w: unterminated room in %.60q", errFrame, b)
	}
	f.room, rest = rest[:i], rest[i+1:]
	if rest, ok = bytes.CutPrefix(rest, []byte(recoveryKey)); ok {
		var v struct {
			Room     string          `json:"room"`
			Recovery *recoveryAnswer `json:"recovery"`
		}
		if err := json.Unmarshal(b, &v); err != nil || v.Recovery == nil {
			return f, fmt.Errorf("%w: recovery answer %.120q", errFrame, b)
		}
		f.room, f.recovery = []byte(v.Room), v.Recovery
		return f, nil
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(cursorKey)); !ok {
		return f, fmt.Errorf("%w: neither cursor nor recovery in %.60q", errFrame, b)
	}
	i = bytes.IndexByte(rest, '"')
	if i < 0 {
		return f, fmt.Errorf("%w: unterminated cursor in %.60q", errFrame, b)
	}
	cursor := rest[:i]
	j := bytes.LastIndexByte(cursor, ':')
	if j < 1 {
		return f, fmt.Errorf("%w: cursor %.60q", errFrame, cursor)
	}
	f.epoch = cursor[:j]
	if f.offset, ok = parseOffset(cursor[j+1:]); !ok {
		return f, fmt.Errorf("%w: cursor %.60q", errFrame, cursor)
	}
	if rest, ok = bytes.CutPrefix(rest[i+1:], []byte(dataKey)); !ok {
		return f, fmt.Errorf("%w: no data after the cursor in %.60q", errFrame, b)
	}
	rest = bytes.TrimPrefix(rest, []byte{'"'}) // text that is not JSON comes as a JSON string
	if _, f.sent, ok = loadserver.ParseTextHeader(rest); !ok {
		return f, fmt.Errorf("%w: data without a text header in %.60q", errFrame, b)
	}
	return f, nil
}

// parseOffset reads a decimal offset of at least 1 without allocating.
func parseOffset(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 { // 19 digits always fit in a uint64
		return 0, false
	}
	var n uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, n > 0
}
