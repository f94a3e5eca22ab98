package wshubtest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// LogRecorder is a core.Logger that keeps every line, at any level, as
// "msg key=value ...", for tests that assert what a hub, or an adapter
// that takes a logger, logged ([LogRecorder.Has]). Give it to a hub with
// core.WithLogger. The zero value is ready to use; it is safe for
// concurrent use.
type LogRecorder struct {
	mu    sync.Mutex
	lines []string
	at    []time.Time
}

// Debug records a line.
func (l *LogRecorder) Debug(msg string, args ...any) { l.add(msg, args) }

// Info records a line.
func (l *LogRecorder) Info(msg string, args ...any) { l.add(msg, args) }

// Warn records a line.
func (l *LogRecorder) Warn(msg string, args ...any) { l.add(msg, args) }

// Error records a line.
func (l *LogRecorder) Error(msg string, args ...any) { l.add(msg, args) }

func (l *LogRecorder) add(msg string, args []any) {
	for i := 0; i+1 < len(args); i += 2 {
		msg += fmt.Sprintf(" %v=%v", args[i], args[i+1])
	}
	l.mu.Lock()
	l.lines = append(l.lines, msg)
	l.at = append(l.at, time.Now())
	l.mu.Unlock()
}

// logTo writes the recorded lines, with their times, to t's log, for a
// failure's diagnosis.
func (l *LogRecorder) logTo(t testing.TB, name string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, line := range l.lines {
		t.Logf("%s %s: %s", l.at[i].Format("15:04:05.000"), name, line)
	}
}

// Has reports whether a recorded line contains s.
func (l *LogRecorder) Has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}
