package adaptertest

import (
	"fmt"
	"strings"
	"sync"
)

// LogRecorder is a core.Logger that keeps every line, at any level, as
// "msg key=value ...", for tests that assert what was logged. It is safe
// for concurrent use.
type LogRecorder struct {
	mu    sync.Mutex
	lines []string
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
	l.mu.Unlock()
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
