// Package loadserver is the server half of cmd/loadtest: a core.Hub served
// by a plain net/http server, next to a small control API through which the
// load generator starts paced broadcasts and reads process statistics.
//
// Routes (all on one listener):
//
//	GET  /ws[?room=NAME][&recover=EPOCH:OFFSET:NAME]
//	                       WebSocket upgrade; with room, the client joins NAME
//	                       (core.Hub.JoinRoom), recovering what it missed since
//	                       the cursor it presents in recover (core.RecoverParam)
//	                       when NAME keeps history. Data messages a client
//	                       sends are echoed back to it.
//	GET  /ctl/stats[?gc=1] process statistics as JSON (Stats); gc=1 collects
//	                       garbage and returns freed memory to the OS first.
//	POST /ctl/fanout?rate=R&size=S&duration=D[&distinct=1]
//	                       broadcasts R msg/s of S bytes for D to every client,
//	                       paced by the server, and answers when done (Run);
//	                       with distinct=1 each client gets its own copy.
//	POST /ctl/rooms?rooms=K&rate=R&size=S&duration=D
//	                       the same, round-robin over rooms r0..r(K-1).
//	POST /ctl/history?rooms=K&rate=R&size=S&duration=D
//	                       the same over the history rooms hist-0..hist-(K-1)
//	                       (Config.HistorySize), with text messages; the answer
//	                       also gives the offsets each room's messages got.
//
// Every broadcast payload starts with the 16-byte header written by
// PutHeader: a sequence number (per room) and the send time in unix
// nanoseconds, so a receiver on the same machine can compute latency and
// detect lost or duplicated messages. A history run writes the header as
// text (PutTextHeader): the hub frames the message with its room and cursor
// (core.JSONFramer), and the receiver accounts by the cursor's offset.
//
// Goroutines: Serve starts the hub's Run goroutine and the net/http server
// (whose goroutines include the one running each control request, which is
// where a paced broadcast runs). Serve stops all of them and waits for them
// before it returns, which it does when its context ends. A Server is safe
// for concurrent use.
package loadserver
