package loadserver

import (
	"bytes"
	"os"
	"strconv"
	"syscall"
)

// Stats is the process snapshot served at /ctl/stats.
type Stats struct {
	// RSSBytes is the resident set size of the server process.
	RSSBytes int64 `json:"rss_bytes"`
	// Goroutines is runtime.NumGoroutine().
	Goroutines int `json:"goroutines"`
	// Clients is the hub's registered client count.
	Clients int `json:"clients"`
	// RoomMembers counts clients that joined a room through /ws?room=.
	RoomMembers int64 `json:"room_members"`
	// CPUSeconds is user plus system CPU time of the process so far.
	CPUSeconds float64 `json:"cpu_seconds"`
	// HeapBytes is the Go heap in use (runtime.MemStats.HeapAlloc); after
	// gc=1 it is what is live.
	HeapBytes int64 `json:"heap_bytes"`
	// Dropped counts messages the hub dropped because a queue was full.
	Dropped uint64 `json:"dropped"`
	// Errors counts errors the hub reported (write failures, panics, ...).
	Errors uint64 `json:"errors"`
	// SlowClosed counts clients the DisconnectSlow policy closed.
	SlowClosed uint64 `json:"slow_closed"`
	// MaxClients is the most connections this server accepts; upgrades
	// beyond it get HTTP 503.
	MaxClients int `json:"max_clients"`
	// ErrorsByKind splits Errors by the hub's kinds ("write", ...); nil
	// when there was none.
	ErrorsByKind map[string]uint64 `json:"errors_by_kind,omitempty"`
	// HistoryLost counts offsets of history rooms the hub gave up waiting
	// for, HistoryDuplicates the history messages it received twice, and
	// HistoryDropped those it dropped before storing them.
	HistoryLost       uint64 `json:"history_lost"`
	HistoryDuplicates uint64 `json:"history_duplicates"`
	HistoryDropped    uint64 `json:"history_dropped"`
}

// ProcessRSS returns the resident set size of this process from
// /proc/self/statm, or 0 where that file cannot be read.
func ProcessRSS() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return 0
	}
	return pages * int64(os.Getpagesize())
}

// ProcessCPUSeconds returns the user plus system CPU time this process has
// used, or 0 if getrusage fails.
func ProcessCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return tvSeconds(ru.Utime) + tvSeconds(ru.Stime)
}

func tvSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}
