package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/internal/loadserver"
)

// step is one event of a recovery client: a new connection (with the
// cursor of its last message, if any), a message at offset, a recovery
// answer, or the end of the connection.
type step struct {
	dial    bool
	offset  uint64
	answer  string // "ok" or a Recovery* reason
	dropped bool
}

func msg(offsets ...uint64) []step {
	var s []step
	for _, o := range offsets {
		s = append(s, step{offset: o})
	}
	return s
}

func steps(parts ...[]step) []step {
	var out []step
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

var (
	reconnect = []step{{dropped: true}, {dial: true}}
	recovered = []step{{answer: "ok"}}
	expired   = []step{{answer: core.RecoveryExpired}}
)

// TestRecoveryAccounting drives one client's accounting with frames made by
// core.JSONFramer and checks its result against the run's range.
func TestRecoveryAccounting(t *testing.T) {
	const epoch = "e1"
	tests := []struct {
		name  string
		give  []step
		run   loadserver.HistoryRange // the offsets the run published
		want  groupResult
		wantR recoveryCounts
	}{
		{
			name: "in order",
			give: msg(1, 2, 3),
			run:  loadserver.HistoryRange{Epoch: epoch, First: 1, Top: 3},
			want: groupResult{Connected: 1, Expected: 3, Delivered: 3},
		},
		{
			name: "a duplicate",
			give: msg(1, 2, 2, 3),
			run:  loadserver.HistoryRange{Epoch: epoch, First: 1, Top: 3},
			want: groupResult{Connected: 1, Expected: 3, Delivered: 3, Dupes: 1},
		},
		{
			name: "a hole in live messages",
			give: msg(1, 2, 5),
			run:  loadserver.HistoryRange{Epoch: epoch, First: 1, Top: 5},
			want: groupResult{Connected: 1, Expected: 5, Delivered: 3, Lost: 2},
		},
		{
			name:  "replayed, then live",
			give:  steps(msg(1, 2), reconnect, msg(3, 4), recovered, msg(5)),
			run:   loadserver.HistoryRange{Epoch: epoch, First: 1, Top: 5},
			want:  groupResult{Connected: 1, Expected: 5, Delivered: 5},
			wantR: recoveryCounts{Recoveries: 1, Drops: 1},
		},
		{
			name:  "a replay with a hole, answered recovered",
			give:  steps(msg(1, 2), reconnect, msg(4), recovered),
			run:   loadserver.HistoryRange{Epoch: epoch, First: 1, Top: 4},
			want:  groupResult{Connected: 1, Expected: 4, Delivered: 3, Lost: 1},
			wantR: recoveryCounts{Recoveries: 1, Drops: 1},
		},
		{
			name:  "a replay repeating the cursor's message",
			give:  steps(msg(1, 2), reconnect, msg(2, 3), recovered),
			run:   loadserver.HistoryRange{Epoch: epoch, First: 1, Top: 3},
			want:  groupResult{Connected: 1, Expected: 3, Delivered: 3, Dupes: 1},
			wantR: recoveryCounts{Recoveries: 1, Drops: 1},
		},
		{
			name:  "expired: the answer first, the hole in the next message",
			give:  steps(msg(1, 2), reconnect, expired, msg(6)),
			run:   loadserver.HistoryRange{Epoch: epoch, First: 1, Top: 6},
			want:  groupResult{Connected: 1, Expected: 6, Delivered: 3},
			wantR: recoveryCounts{Recoveries: 1, Drops: 1, Gaps: 1, Unrecovered: 3, Reasons: map[string]uint64{"expired": 1}},
		},
		{
			name:  "expired: the hole before the answer",
			give:  steps(msg(1, 2), reconnect, msg(6), expired, msg(7)),
			run:   loadserver.HistoryRange{Epoch: epoch, First: 1, Top: 7},
			want:  groupResult{Connected: 1, Expected: 7, Delivered: 4},
			wantR: recoveryCounts{Recoveries: 1, Drops: 1, Gaps: 1, Unrecovered: 3, Reasons: map[string]uint64{"expired": 1}},
		},
		{
			name:  "expired: a later hole is lost",
			give:  steps(msg(1, 2), reconnect, expired, msg(6, 8)),
			run:   loadserver.HistoryRange{Epoch: epoch, First: 1, Top: 8},
			want:  groupResult{Connected: 1, Expected: 8, Delivered: 4, Lost: 1},
			wantR: recoveryCounts{Recoveries: 1, Drops: 1, Gaps: 1, Unrecovered: 3, Reasons: map[string]uint64{"expired": 1}},
		},
		{
			name:  "expired after the last message",
			give:  steps(msg(1, 2), reconnect, expired),
			run:   loadserver.HistoryRange{Epoch: epoch, First: 1, Top: 6},
			want:  groupResult{Connected: 1, Expected: 6, Delivered: 2},
			wantR: recoveryCounts{Recoveries: 1, Drops: 1, Gaps: 1, Unrecovered: 4, Reasons: map[string]uint64{"expired": 1}},
		},
		{
			name:  "the connection ends during the recovery",
			give:  steps(msg(1), reconnect, msg(3), []step{{dropped: true}}),
			run:   loadserver.HistoryRange{Epoch: epoch, First: 1, Top: 3},
			want:  groupResult{Disconnected: 1, Expected: 3, Delivered: 2, Lost: 1},
			wantR: recoveryCounts{Drops: 2},
		},
		{
			name: "the run's first and last messages missing",
			give: msg(3, 4),
			run:  loadserver.HistoryRange{Epoch: epoch, First: 1, Top: 6},
			want: groupResult{Connected: 1, Expected: 6, Delivered: 2, Lost: 4},
		},
		{
			name: "nothing received",
			run:  loadserver.HistoryRange{Epoch: epoch, First: 1, Top: 6},
			want: groupResult{Connected: 1, Expected: 6, Lost: 6},
		},
		{
			name: "an answer without a recovery",
			give: steps(msg(1), recovered),
			run:  loadserver.HistoryRange{Epoch: epoch, First: 1, Top: 1},
			want: groupResult{Connected: 1, Expected: 1, Delivered: 1, Errors: 1,
				ErrorSamples: []string{`a recovery answer of "hist-0" without a recovery`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newRecoveryGroup(groupSpec{Rooms: 1, DropEveryNs: int64(time.Second)})
			c := &recClient{name: loadserver.HistoryRoom(0)}
			g.clients = []*recClient{c}
			c.connected("", time.Now())
			for _, s := range tt.give {
				switch {
				case s.dial:
					c.connected(c.cursor(), time.Now())
				case s.dropped:
					g.ended(c, true)
				case s.answer != "":
					since, _ := core.ParseCursor(c.since) // "" before any cursor: no position
					a := core.Recovery{Recovered: s.answer == "ok", Since: since}
					if !a.Recovered {
						a.Reason = s.answer
					}
					g.handle(c, answer(c.name, a))
				default:
					g.handle(c, framed(c.name, core.Position{Epoch: epoch, Offset: s.offset}))
				}
			}
			got := g.result(finishArgs{History: []loadserver.HistoryRange{tt.run}})
			rc := *got.Recovery
			rc.Hist, rc.MaxNs, rc.LossSamples = nil, 0, nil
			assert.Equal(t, tt.wantR, rc)
			if tt.want.Lost > 0 {
				assert.NotEmpty(t, got.Recovery.LossSamples, "a loss says where")
			}
			got.Recovery, got.Hist, got.MaxNs, got.LastRecvNs, got.CPUSeconds = nil, nil, 0, 0, 0
			assert.Equal(t, tt.want, got)
		})
	}
}
