package loadserver

import (
	"context"
	"strconv"
	"time"

	"github.com/wshub/wshub/core"
)

// HistoryRoomPrefix starts the name of every room that keeps history when
// Config.HistorySize is set: the rooms of a history run are
// HistoryRoomPrefix+"0" .. HistoryRoomPrefix+"K-1", and a client joins one
// with /ws?room=hist-K.
const HistoryRoomPrefix = "hist-"

// DefaultHistorySize is the history size of "loadtest -serve" when its
// -history flag is not given: at 100 msg/s per room it covers a client that
// is away for 40 s.
const DefaultHistorySize = 4096

// historySettle bounds how long a history run waits, after its last
// message, for the store to show every message it published (a hub with an
// adapter stores asynchronously; this server's own memory store does not).
const historySettle = 5 * time.Second

// HistoryRoom returns the name of history room k.
func HistoryRoom(k int) string { return HistoryRoomPrefix + strconv.Itoa(k) }

// HistoryRange is the part of one history room's stream that a paced run
// published: offsets First..Top of Epoch. A client that was in the room
// for the whole run, or recovered every time it was away, has received
// each of them once.
type HistoryRange struct {
	Epoch string `json:"epoch"`
	// First is the offset of the run's first message; with Top below it
	// the run stored nothing in the room.
	First uint64 `json:"first"`
	// Top is the offset of the room's newest message after the run.
	Top uint64 `json:"top"`
}

// Count returns how many messages the range holds.
func (r HistoryRange) Count() uint64 {
	if r.Top < r.First {
		return 0
	}
	return r.Top - r.First + 1
}

// historyRoomOptions is the hub's RoomOptionsFunc for a history size.
func historyRoomOptions(size int) core.RoomOptionsFunc {
	return core.RoomOptionsByPrefix(map[string]core.RoomOptions{
		HistoryRoomPrefix: {History: core.History{Size: size}},
	})
}

// historyTops reads where each room's stream stands: its epoch and newest
// offset ("" and 0 for a room the store keeps nothing of).
func (s *Server) historyTops(ctx context.Context, names []string) []core.Position {
	tops := make([]core.Position, len(names))
	for k, name := range names {
		page, err := s.hub.History(ctx, name, core.HistoryQuery{Limit: 1, Reverse: true})
		if err == nil {
			tops[k] = core.Position{Epoch: page.Epoch, Offset: page.Top}
		}
	}
	return tops
}

// historyRanges returns the ranges the run published in each room, given
// where the streams stood before it (before) and what it sent (sent). It
// waits, at most historySettle or until ctx ends, for the store to show
// every message sent.
func (s *Server) historyRanges(ctx context.Context, names []string, before []core.Position, sent []uint64) []HistoryRange {
	ranges := make([]HistoryRange, len(names))
	deadline := time.Now().Add(historySettle)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for k, name := range names {
		for {
			page, err := s.hub.History(ctx, name, core.HistoryQuery{Limit: 1, Reverse: true})
			r := HistoryRange{Epoch: page.Epoch, First: 1, Top: page.Top}
			if err == nil && page.Epoch == before[k].Epoch {
				r.First = before[k].Offset + 1
			}
			ranges[k] = r
			if (err == nil && r.Count() >= sent[k]) || time.Now().After(deadline) {
				break
			}
			timer.Reset(5 * time.Millisecond)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return ranges
			}
		}
	}
	return ranges
}
