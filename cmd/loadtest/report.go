package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// result is the outcome of a run, printed as a table and as the RESULT
// JSON line.
type result struct {
	Scenario        string          `json:"scenario"`
	Clients         int             `json:"clients"`
	Connected       int             `json:"connected"`
	Procs           int             `json:"procs"`
	Rate            float64         `json:"rate"`
	Size            int             `json:"size"`
	Rooms           int             `json:"rooms,omitempty"`
	Duration        float64         `json:"duration"`
	Linger          string          `json:"linger,omitempty"`
	Sent            uint64          `json:"sent,omitempty"`
	Delivered       uint64          `json:"delivered"`
	DeliveredPerSec float64         `json:"delivered_per_sec"`
	Expected        uint64          `json:"expected"`
	Lost            uint64          `json:"lost"`
	Dupes           uint64          `json:"dupes"`
	Disconnected    int             `json:"disconnected"`
	LatencyMs       latency         `json:"latency_ms"`
	ConnPerSec      float64         `json:"conn_per_sec"`
	PacerMaxLagMs   float64         `json:"pacer_max_lag_ms,omitempty"`
	Server          serverResult    `json:"server"`
	Generator       generatorStats  `json:"generator"`
	Errors          uint64          `json:"errors"`
	ErrorSamples    []string        `json:"error_samples,omitempty"`
	Churn           *churnResult    `json:"churn,omitempty"`
	Slow            *slowResult     `json:"slow,omitempty"`
	Recovery        *recoveryResult `json:"recovery,omitempty"`

	lastRecvNs   int64
	churnSkipped uint64
}

type latency struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

type serverResult struct {
	Available         bool    `json:"available"`
	RSSBytesPerConn   float64 `json:"rss_bytes_per_conn"`
	HeapBytesPerConn  float64 `json:"heap_bytes_per_conn"`
	GoroutinesPerConn float64 `json:"goroutines_per_conn"`
	CPUUsPerDelivery  float64 `json:"cpu_us_per_delivery"`
	RSSBytes          int64   `json:"rss_bytes"`
	Goroutines        int     `json:"goroutines"`
	Dropped           uint64  `json:"dropped"`
	Errors            uint64  `json:"errors"`
	// ErrorsByKind splits Errors by the hub's error kinds.
	ErrorsByKind map[string]uint64 `json:"errors_by_kind,omitempty"`
	// History rooms (recovery): offsets the hub gave up waiting for,
	// messages it received twice, and messages it could not store.
	HistoryLost       uint64 `json:"history_lost,omitempty"`
	HistoryDuplicates uint64 `json:"history_duplicates,omitempty"`
	HistoryDropped    uint64 `json:"history_dropped,omitempty"`
	// Heap figures of a fanout run: the largest heap in use (garbage
	// included) during it, and what was live right after it.
	MaxHeapInuseBytes int64 `json:"max_heap_inuse_bytes,omitempty"`
	LiveHeapBytes     int64 `json:"live_heap_bytes,omitempty"`
}

// slowResult reports the slow readers of a fanout run (-slow).
type slowResult struct {
	Clients   int    `json:"clients"`
	Delivered uint64 `json:"delivered"`
	// Closed counts slow clients that saw the server's 1013 close.
	Closed int `json:"closed"`
	// ServerClosed is the server's own count of DisconnectSlow closes.
	ServerClosed uint64 `json:"server_closed"`
}

// recoveryResult reports the recovery scenario. The run's lost and dupes
// count holes a recovery did not fill and offsets received twice; what
// the recovery answer itself gave up on counts here instead.
type recoveryResult struct {
	// Recoveries counts the recovery answers the clients received, one
	// per reconnection with a cursor.
	Recoveries uint64 `json:"recoveries"`
	// Gaps counts the answers that said recovered:false, Unrecovered the
	// messages missing behind them, and Reasons the answers per reason.
	Gaps        uint64            `json:"gaps"`
	Unrecovered uint64            `json:"unrecovered"`
	Reasons     map[string]uint64 `json:"reasons,omitempty"`
	// Drops counts the connections the clients dropped on purpose.
	Drops uint64 `json:"drops"`
	// LossSamples says where the first lost messages were.
	LossSamples []string `json:"loss_samples,omitempty"`
	// TimeMs is the recovery time: from the start of the reconnecting dial
	// to the recovery answer, which comes after the replay.
	TimeMs    latency `json:"time_ms"`
	Gap       string  `json:"gap"`
	DropEvery string  `json:"drop_every"`
	// HistorySize is what each room keeps on a server the generator
	// started (0: not known).
	HistorySize int `json:"history_size,omitempty"`
}

type generatorStats struct {
	CPUUsPerMsg float64 `json:"cpu_us_per_msg"`
	CPUSeconds  float64 `json:"cpu_seconds"`
}

type churnResult struct {
	Connects         uint64  `json:"connects"`
	ConnectsPerSec   float64 `json:"connects_per_sec"`
	Skipped          uint64  `json:"skipped"`
	GoroutinesBefore int     `json:"goroutines_before"`
	GoroutinesAfter  int     `json:"goroutines_after"`
	RSSBefore        int64   `json:"rss_bytes_before"`
	RSSAfter         int64   `json:"rss_bytes_after"`
	ClientsAfter     int     `json:"clients_after"`
}

// merge adds the groups' results.
func (res *result) merge(results []groupResult, conn connectResult) {
	var h, rh counts
	var maxNs, recMaxNs int64
	res.ErrorSamples = conn.ErrorSamples
	for _, g := range results {
		res.Delivered += g.Delivered
		res.Expected += g.Expected
		res.Lost += g.Lost
		res.Dupes += g.Dupes
		res.Disconnected += g.Disconnected
		res.Errors += g.Errors
		res.ErrorSamples = appendSamples(res.ErrorSamples, g.ErrorSamples)
		res.lastRecvNs = max(res.lastRecvNs, g.LastRecvNs)
		res.churnSkipped += g.ChurnSkipped
		if g.SlowClients > 0 {
			if res.Slow == nil {
				res.Slow = &slowResult{}
			}
			res.Slow.Clients += g.SlowClients
			res.Slow.Delivered += g.SlowDelivered
			res.Slow.Closed += g.SlowClosed
		}
		if rc := g.Recovery; rc != nil {
			if res.Recovery == nil {
				res.Recovery = &recoveryResult{}
			}
			rr := res.Recovery
			rr.Recoveries += rc.Recoveries
			rr.Gaps += rc.Gaps
			rr.Unrecovered += rc.Unrecovered
			rr.Drops += rc.Drops
			rr.LossSamples = appendSamples(rr.LossSamples, rc.LossSamples)
			for k, v := range rc.Reasons {
				if rr.Reasons == nil {
					rr.Reasons = make(map[string]uint64)
				}
				rr.Reasons[k] += v
			}
			rh.addSparse(rc.Hist)
			recMaxNs = max(recMaxNs, rc.MaxNs)
		}
		h.addSparse(g.Hist)
		maxNs = max(maxNs, g.MaxNs)
	}
	res.LatencyMs = quantiles(&h, maxNs)
	if res.Recovery != nil {
		res.Recovery.TimeMs = quantiles(&rh, recMaxNs)
	}
}

// quantiles reads the latency figures of h, whose largest value is maxNs.
func quantiles(h *counts, maxNs int64) latency {
	maxMs := float64(maxNs) / 1e6
	// A quantile is its bucket's upper bound, which may lie above the
	// largest value actually seen.
	q := func(f float64) float64 { return min(float64(h.quantile(f))/1000, maxMs) }
	return latency{P50: q(0.50), P95: q(0.95), P99: q(0.99), Max: maxMs}
}

func printTable(out io.Writer, r *result) error {
	w := &strings.Builder{}
	row := func(k, f string, a ...any) { fmt.Fprintf(w, "  %-28s "+f+"\n", append([]any{k}, a...)...) }
	fmt.Fprintf(w, "\n%s\n", strings.Repeat("=", 60))
	fmt.Fprintf(w, "  scenario %s: %d clients (%d connected) in %d process(es)\n", r.Scenario, r.Clients, r.Connected, r.Procs)
	switch r.Scenario {
	case scFanout, scRooms:
		row("rate, size", "%.0f msg/s, %d bytes, %.0fs", r.Rate, r.Size, r.Duration)
		if r.Rooms > 0 {
			row("rooms", "%d", r.Rooms)
		}
		if r.Linger != "" {
			row("server linger", "%s", r.Linger)
		}
		row("broadcasts sent", "%d", r.Sent)
		row("delivered / expected", "%d / %d", r.Delivered, r.Expected)
		row("delivered per second", "%.0f", r.DeliveredPerSec)
		row("lost, dupes", "%d, %d", r.Lost, r.Dupes)
		row("pacer max lag", "%.1f ms", r.PacerMaxLagMs)
		if s := r.Slow; s != nil {
			row("slow readers", "%d (left out of the figures above and below)", s.Clients)
			row("slow: read, closed (1013)", "%d messages, %d clients (server: %d)", s.Delivered, s.Closed, s.ServerClosed)
		}
		if r.Server.MaxHeapInuseBytes > 0 {
			row("server heap", "%.1f MB in use at most, %.1f MB live after the run",
				float64(r.Server.MaxHeapInuseBytes)/1e6, float64(r.Server.LiveHeapBytes)/1e6)
		}
	case scRecovery:
		row("rate, size", "%.0f msg/s per room, %d bytes, %.0fs", r.Rate, r.Size, r.Duration)
		row("rooms", "%d", r.Rooms)
		row("messages sent", "%d", r.Sent)
		row("delivered / expected", "%d / %d", r.Delivered, r.Expected)
		row("delivered per second", "%.0f", r.DeliveredPerSec)
		row("lost, dupes", "%d, %d", r.Lost, r.Dupes)
		if rc := r.Recovery; rc != nil {
			row("drops (gap, drop-every)", "%d (up to %s, every %s)", rc.Drops, rc.Gap, rc.DropEvery)
			row("recoveries", "%d", rc.Recoveries)
			row("unrecovered: answers, msgs", "%d, %d %v", rc.Gaps, rc.Unrecovered, rc.Reasons)
			row("recovery p50/p95/p99", "%.2f / %.2f / %.2f ms", rc.TimeMs.P50, rc.TimeMs.P95, rc.TimeMs.P99)
			row("recovery max", "%.2f ms", rc.TimeMs.Max)
			for _, l := range rc.LossSamples {
				row("  lost", "%s", l)
			}
			if rc.HistorySize > 0 {
				row("server history per room", "%d messages", rc.HistorySize)
			}
		}
		row("pacer max lag", "%.1f ms", r.PacerMaxLagMs)
	case scEcho, scRequest:
		row("size, duration", "%d bytes, %.0fs", r.Size, r.Duration)
		row("round trips", "%d of %d sent", r.Delivered, r.Expected)
		row("round trips per second", "%.0f", r.DeliveredPerSec)
		row("lost, unexpected", "%d, %d", r.Lost, r.Dupes)
	case scConnect:
		row("connections per second", "%.0f", r.ConnPerSec)
	case scChurn:
		if c := r.Churn; c != nil {
			row("connects (per second)", "%d (%.0f/s), %d pacing tokens skipped", c.Connects, c.ConnectsPerSec, c.Skipped)
			row("server goroutines", "%d before, %d after", c.GoroutinesBefore, c.GoroutinesAfter)
			row("server RSS", "%.1f MB before, %.1f MB after", float64(c.RSSBefore)/1e6, float64(c.RSSAfter)/1e6)
			row("server clients after", "%d", c.ClientsAfter)
		}
	}
	what := "latency"
	if r.Scenario == scConnect || r.Scenario == scChurn {
		what = "connect latency"
	}
	row(what+" p50/p95/p99", "%.2f / %.2f / %.2f ms", r.LatencyMs.P50, r.LatencyMs.P95, r.LatencyMs.P99)
	row(what+" max", "%.2f ms", r.LatencyMs.Max)
	if r.Server.Available {
		if r.Scenario != scChurn {
			row("server RSS per idle conn", "%.0f bytes (%.1f KB)", r.Server.RSSBytesPerConn, r.Server.RSSBytesPerConn/1024)
			row("server heap per idle conn", "%.0f bytes (%.1f KB)", r.Server.HeapBytesPerConn, r.Server.HeapBytesPerConn/1024)
			row("server goroutines per conn", "%.2f", r.Server.GoroutinesPerConn)
		}
		unit := "delivery"
		switch r.Scenario {
		case scEcho, scRequest:
			unit = "round trip"
		case scConnect, scChurn:
			unit = "connect"
		}
		row("server CPU per "+unit, "%.2f us", r.Server.CPUUsPerDelivery)
		row("server dropped, errors", "%d, %d %v", r.Server.Dropped, r.Server.Errors, r.Server.ErrorsByKind)
		if r.Scenario == scRecovery {
			row("server history lost/dup/drop", "%d, %d, %d", r.Server.HistoryLost, r.Server.HistoryDuplicates, r.Server.HistoryDropped)
		}
	} else {
		row("server figures", "unavailable (no /ctl/stats)")
	}
	if r.Scenario != scConnect {
		row("generator CPU per message", "%.2f us (%.1f s)", r.Generator.CPUUsPerMsg, r.Generator.CPUSeconds)
	}
	row("errors, disconnected", "%d, %d", r.Errors, r.Disconnected)
	for _, s := range r.ErrorSamples {
		row("  error", "%s", s)
	}
	fmt.Fprintf(w, "%s\n", strings.Repeat("=", 60))
	_, err := io.WriteString(out, w.String())
	return err
}

func printJSON(w io.Writer, r *result) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "RESULT %s\n", b)
	return err
}
