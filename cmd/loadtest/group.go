package main

import (
	"context"
	"time"

	"github.com/wshub/wshub/internal/loadserver"
)

// groupSpec describes the clients of one group: all of them in a
// single-process run, or one worker's share with -procs.
type groupSpec struct {
	Scenario string `json:"scenario"`
	URL      string `json:"url"`
	Clients  int    `json:"clients"`
	// Offset is the global index of the group's first client; client i
	// joins room (Offset+i) mod Rooms.
	Offset          int     `json:"offset"`
	Rooms           int     `json:"rooms"`
	Size            int     `json:"size"`
	DialConcurrency int     `json:"dial_concurrency"`
	ReadBufferSize  int     `json:"read_buffer_size"`
	ChurnRate       float64 `json:"churn_rate"`
	// Slow clients are those whose global index is below Slow: they read
	// one message per SlowReadNs and are left out of latency and loss.
	Slow       int   `json:"slow"`
	SlowReadNs int64 `json:"slow_read_ns"`
	// SlowClosed: the server closes slow readers (-policy disconnect), so
	// a slow reader has what it will get only once its connection ended.
	SlowClosed bool `json:"slow_closed"`
	// Recovery: a client drops its connection after about DropEveryNs
	// (uniform in [0.5, 1.5] times it) and dials again after a random gap
	// of up to GapNs.
	GapNs       int64 `json:"gap_ns"`
	DropEveryNs int64 `json:"drop_every_ns"`
}

// connectResult reports a group's connect phase.
type connectResult struct {
	Connected    int      `json:"connected"`
	Errors       uint64   `json:"errors"`
	ErrorSamples []string `json:"error_samples,omitempty"`
	ElapsedNs    int64    `json:"elapsed_ns"`
}

// finishArgs tells a group that the server stopped sending.
type finishArgs struct {
	// SentPerRoom is what the server sent per room (one entry for fanout);
	// nil for echo, churn and connect.
	SentPerRoom []uint64 `json:"sent_per_room"`
	// GraceNs bounds the wait for messages still in flight.
	GraceNs int64 `json:"grace_ns"`
	// History is, for recovery, the offsets the run's messages got in each
	// history room (index k is room hist-k).
	History []loadserver.HistoryRange `json:"history,omitempty"`
}

// groupResult is a group's share of the final result.
type groupResult struct {
	Connected    int         `json:"connected"`
	Disconnected int         `json:"disconnected"`
	Expected     uint64      `json:"expected"`
	Delivered    uint64      `json:"delivered"`
	Dupes        uint64      `json:"dupes"`
	Lost         uint64      `json:"lost"`
	Sent         uint64      `json:"sent"`
	Errors       uint64      `json:"errors"`
	ErrorSamples []string    `json:"error_samples,omitempty"`
	Hist         [][2]uint64 `json:"hist"`
	MaxNs        int64       `json:"max_ns"`
	LastRecvNs   int64       `json:"last_recv_ns"`
	CPUSeconds   float64     `json:"cpu_seconds"`
	ChurnSkipped uint64      `json:"churn_skipped"`
	// Slow clients: how many, what they read, and how many the server
	// closed with 1013 (DisconnectSlow).
	SlowClients   int    `json:"slow_clients"`
	SlowDelivered uint64 `json:"slow_delivered"`
	SlowClosed    int    `json:"slow_closed"`
	// Recovery holds the recovery scenario's own figures; nil otherwise.
	Recovery *recoveryCounts `json:"recovery,omitempty"`
}

// progress is a group's running totals.
type progress struct {
	Connected int64       `json:"connected"`
	Done      uint64      `json:"done"` // messages, round trips or connects
	Errors    uint64      `json:"errors"`
	Hist      [][2]uint64 `json:"hist"` // cumulative, sparse (workers only)
}

// group is a set of clients driven through the phases of a scenario:
// Connect, Start, Finish, Close, each called once in that order (Close may
// come early). Progress may be called at any time from another goroutine.
type group interface {
	Connect(ctx context.Context) (connectResult, error)
	Start(ctx context.Context) error
	Finish(ctx context.Context, args finishArgs) (groupResult, error)
	// Progress adds the group's totals to p and its cumulative latency
	// histogram to h.
	Progress(p *progress, h *counts)
	Close(ctx context.Context) error
}

func graceOf(a finishArgs) time.Duration { return time.Duration(a.GraceNs) }
