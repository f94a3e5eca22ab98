package loadserver

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strconv"
	"time"
)

// RunSpec describes one paced broadcast run.
type RunSpec struct {
	// Rate is the number of messages per second, over all rooms.
	Rate float64
	// Size is the payload size in bytes, at least HeaderSize.
	Size int
	// Duration is how long the run lasts; it sends round(Rate*Duration)
	// messages (at least one).
	Duration time.Duration
	// Rooms spreads the messages round-robin over rooms r0..r(Rooms-1);
	// zero broadcasts every message to all clients.
	Rooms int
	// Distinct sends every client its own copy of each message instead of
	// one shared broadcast: what a server that builds per-client payloads
	// does, and the worst case for the memory queues hold. Not with Rooms.
	Distinct bool
	// History sends to the history rooms HistoryRoom(0..Rooms-1) instead
	// of r0..: text messages that start with a text header
	// (PutTextHeader), padded with '.', which the hub stores and frames
	// with their cursor. It needs Rooms, a Size of at least
	// TextHeaderSize, and a server with Config.HistorySize.
	History bool
}

func (s RunSpec) validate() error {
	switch {
	case s.Rate <= 0 || s.Rate > maxRate:
		return fmt.Errorf("rate %v not in (0, %d]: %w", s.Rate, maxRate, ErrInvalidSpec)
	case s.Size < HeaderSize || s.Size > maxSize:
		return fmt.Errorf("size %d not in [%d, %d]: %w", s.Size, HeaderSize, maxSize, ErrInvalidSpec)
	case s.Duration <= 0 || s.Duration > maxDuration:
		return fmt.Errorf("duration %v not in (0, %v]: %w", s.Duration, maxDuration, ErrInvalidSpec)
	case s.Rooms < 0 || s.Rooms > maxRooms:
		return fmt.Errorf("rooms %d not in [0, %d]: %w", s.Rooms, maxRooms, ErrInvalidSpec)
	case s.Distinct && s.Rooms > 0:
		return fmt.Errorf("distinct copies go to all clients, not to rooms: %w", ErrInvalidSpec)
	case s.History && s.Rooms < 1:
		return fmt.Errorf("a history run needs rooms: %w", ErrInvalidSpec)
	case s.History && s.Size < TextHeaderSize:
		return fmt.Errorf("size %d below the text header (%d): %w", s.Size, TextHeaderSize, ErrInvalidSpec)
	}
	return nil
}

// RunResult reports what a paced run sent.
type RunResult struct {
	// Sent is the number of broadcasts made.
	Sent uint64 `json:"sent"`
	// SentPerRoom holds the broadcasts per room (index k is room rk), or one
	// entry equal to Sent for a run to all clients. The sequence numbers of
	// room k went from 0 to SentPerRoom[k]-1.
	SentPerRoom []uint64 `json:"sent_per_room"`
	// ElapsedNs is the time from the first broadcast to the end of the last.
	ElapsedNs int64 `json:"elapsed_ns"`
	// MaxLagNs is how far behind its schedule the pacer fell at worst (a
	// large value means the server could not keep the requested rate).
	MaxLagNs int64 `json:"max_lag_ns"`
	// Interrupted is true when the run was cut short (request cancelled or
	// server stopping).
	Interrupted bool `json:"interrupted"`
	// MaxHeapInuseBytes is the largest Go heap in use (garbage included)
	// seen during the run, sampled every 100 ms.
	MaxHeapInuseBytes int64 `json:"max_heap_inuse_bytes"`
	// History holds, for a history run, the offsets each room's messages
	// got (index k is HistoryRoom(k)); nil for other runs.
	History []HistoryRange `json:"history,omitempty"`
}

// Run broadcasts spec.Rate binary messages per second for spec.Duration,
// each carrying a header (PutHeader) with its sequence number and send
// time (a history run sends text; see RunSpec.History). It blocks until
// the run ends or ctx ends (then the result says Interrupted and counts
// what was sent). It fails with ErrRunActive while another run is going
// on, ErrClosed once Serve stops, ErrInvalidSpec for parameters out of
// range, and ErrNoHistory for a history run on a server without history.
func (s *Server) Run(ctx context.Context, spec RunSpec) (RunResult, error) {
	if err := spec.validate(); err != nil {
		return RunResult{}, err
	}
	if spec.History && s.cfg.HistorySize <= 0 {
		return RunResult{}, ErrNoHistory
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return RunResult{}, ErrClosed
	case s.cancelRun != nil:
		s.mu.Unlock()
		return RunResult{}, ErrRunActive
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s.cancelRun = cancel
	s.runs.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.cancelRun = nil
		s.mu.Unlock()
		s.runs.Done()
	}()
	return s.pace(ctx, spec), nil
}

// pace runs spec; a history run also reads where the rooms' streams stood
// before and after it.
func (s *Server) pace(ctx context.Context, spec RunSpec) RunResult {
	var names []string
	for k := 0; k < spec.Rooms; k++ {
		if spec.History {
			names = append(names, HistoryRoom(k))
		} else {
			names = append(names, "r"+strconv.Itoa(k))
		}
	}
	if !spec.History {
		return s.paceLoop(ctx, spec, names)
	}
	before := s.historyTops(ctx, names)
	res := s.paceLoop(ctx, spec, names)
	res.History = s.historyRanges(ctx, names, before, res.SentPerRoom)
	return res
}

// paceLoop sends the messages of spec to names (the rooms, if any) on
// schedule.
func (s *Server) paceLoop(ctx context.Context, spec RunSpec, names []string) RunResult {
	total := uint64(spec.Rate*spec.Duration.Seconds() + 0.5)
	if total == 0 {
		total = 1
	}
	perRoom := make([]uint64, max(spec.Rooms, 1))
	res := RunResult{SentPerRoom: perRoom}
	var pad []byte
	if spec.History {
		pad = bytes.Repeat([]byte{'.'}, spec.Size)
	}
	var ms runtime.MemStats
	var sampled time.Time
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	nsPerMsg := 1e9 / spec.Rate
	start := time.Now()
	for i := uint64(0); i < total; i++ {
		due := start.Add(time.Duration(float64(i) * nsPerMsg))
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				res.Interrupted = true
				res.ElapsedNs = int64(time.Since(start))
				return res
			}
		} else {
			if ctx.Err() != nil {
				res.Interrupted = true
				break
			}
			if lag := int64(-wait); lag > res.MaxLagNs {
				res.MaxLagNs = lag
			}
		}
		if now := time.Now(); now.Sub(sampled) >= 100*time.Millisecond {
			sampled = now
			runtime.ReadMemStats(&ms)
			res.MaxHeapInuseBytes = max(res.MaxHeapInuseBytes, int64(ms.HeapInuse))
		}
		room := 0
		if spec.Rooms > 0 {
			room = int(i % uint64(spec.Rooms))
		}
		// A fresh buffer per message: the hub keeps it until every
		// recipient has written it.
		msg := make([]byte, spec.Size)
		if spec.History {
			copy(msg, pad)
			PutTextHeader(msg, perRoom[room], time.Now().UnixNano())
		} else {
			PutHeader(msg, perRoom[room], time.Now().UnixNano())
		}
		perRoom[room]++
		res.Sent++
		switch {
		case spec.History:
			_ = s.hub.BroadcastToRoom(names[room], msg) // stored even with no member: never ErrRoomNotFound
		case spec.Rooms > 0:
			_ = s.hub.BroadcastBinaryToRoom(names[room], msg) // an empty room has no one to miss it
		case spec.Distinct:
			for _, c := range s.hub.Clients() {
				_ = c.SendBinary(append([]byte(nil), msg...)) // a full queue or a closed client: counted by the hub
			}
		default:
			s.hub.BroadcastBinary(msg)
		}
	}
	res.ElapsedNs = int64(time.Since(start))
	return res
}
