// Command loadtest measures a wshub server end to end: the server and the
// clients run in separate processes and talk over real sockets on the
// loopback interface.
//
// Scenarios (-scenario):
//
//	connect  open -clients connections as fast as possible (conn/s), hold
//	         them idle for -hold, report server RSS and goroutines per
//	         connection.
//	fanout   the server broadcasts -rate msg/s of -size bytes for -duration
//	         to all clients; clients measure latency, loss and duplicates.
//	         With -slow N the first N clients read one message per
//	         -slow-read (200ms) and are left out of latency and loss; the
//	         report says what they read, how many the server closed as slow
//	         (-policy disconnect), and the server's heap. With -distinct the
//	         server sends each client its own copy of every message instead
//	         of one shared broadcast (the worst case for queued memory).
//	rooms    the same, spread round-robin over -rooms rooms (-rate in total);
//	         client i joins room i mod -rooms.
//	echo     each client sends a message and waits for its echo, as fast as
//	         it can, for -duration: round trips/s and latency.
//	request  echo with requests and replies: each client sends a request,
//	         a text frame {"type":"echo","id":N,"p":"..."} of -size bytes,
//	         and waits for its reply {"id":N,"result":null} (the server
//	         runs with core.Config.Requests, its handler sets no result).
//	         Compare its round trips/s and server CPU per round trip with
//	         echo's to see what request handling costs.
//	churn    -clients slots connect and disconnect at -rate connects/s in
//	         total for -duration; server goroutines and RSS before and after
//	         show leaks.
//	recovery resumable history rooms under reconnects. Client i joins
//	         history room hist-(i mod -rooms) on connect (/ws?room=hist-K);
//	         the server publishes -rate msg/s per room (default 10) of -size
//	         bytes for -duration. Every client drops its connection after a
//	         random time (uniform in [0.5, 1.5] x -drop-every, default 5s,
//	         counted from when it has a cursor and no recovery under way)
//	         and dials again after a random gap of up to -gap (default 2s),
//	         presenting the cursor of the last message it received
//	         (recover=EPOCH:OFFSET:ROOM); the server rejoins it with
//	         JoinRoom, which replays what it missed and then sends the
//	         recovery answer. Each client checks the offsets it receives: an
//	         offset already seen counts in dupes, a hole in lost, unless the
//	         recovery answer said recovered:false (then in recovery.gaps, one
//	         per answer, and recovery.unrecovered, the messages). What a
//	         client lacks of the run's offsets at the end counts as lost too.
//	         The report adds recoveries (answers received), drops, the
//	         recovery time from the reconnecting dial to the answer
//	         (recovery.time_ms p50/p95/p99/max), up to five loss_samples
//	         saying where messages were lost, and the server's own history
//	         counts (server.history_lost, history_duplicates,
//	         history_dropped). Latency covers live messages only. The server
//	         the generator starts keeps, per history room, -history messages,
//	         by default enough for 2 x -rate x (-gap + 10s) and at least 4096;
//	         with a smaller -history, recoveries fail as "expired" and show
//	         as gaps. All clients use one server: the tool has no multi-node
//	         mode.
//
// By default the generator starts the server itself (it re-executes its own
// binary with -serve and reads the bound address from the child's stdout);
// -url ws://127.0.0.1:PORT/ws targets a running one instead. The fanout,
// rooms and recovery scenarios need its control API (/ctl/stats,
// /ctl/fanout, /ctl/rooms, /ctl/history; see internal/loadserver), which a
// "loadtest -serve" server has (with -history N for its history rooms,
// default 4096); the other scenarios run without it and lack the server
// figures. With -procs P the clients are spread over P worker processes (the
// binary re-executed with -worker), needed above about 19,000 clients since
// one process may open at most 20,000 files here.
//
// Output: progress on stderr once per second, a table on stdout, then one
// line "RESULT {json}".
//
// Costs to know when reading the figures: on this kind of machine a read
// or write syscall on loopback costs several microseconds, and the
// generator reads with one syscall whatever frames have arrived, up to
// -client-readbuf bytes (default 4096, so about 30 frames of 128 bytes).
// The generator's own CPU per message is reported next to the server's;
// -cpuprofile profiles the generator, -server-cpuprofile the server it
// starts.
//
// Goroutines: a client costs one goroutine (its reader, its echo loop, or
// in recovery its loop of read, drop, wait and dial), plus one per dial
// worker while connecting; each child process has one
// goroutine reading its stdout. All are stopped and waited for before the
// program exits, except when the overall deadline (-timeout) fires, which
// kills the children and exits at once.
package main
