// Command testserver is the wshub server the tests of the client package
// (clients/js) run against, and the reconnect-spread measurement
// (clients/js/bench) too. It is a test fixture, not an example: its
// /admin endpoints let the tests publish, drop connections and drain.
//
//	testserver [-addr 127.0.0.1:0] [-node a] [-redis redis://127.0.0.1:6379 -prefix p]
//
// It prints "listening <host:port>" on stdout once it serves. Rooms named
// "h:..." keep history; rooms named "p:..." keep history and send
// presence events. The request events: join, leave, echo, fail, slow
// (never answered), say (broadcast to the room), sayexcept (the same,
// skipping the sender), ask (asks the client
// back with Client.Call and replies with its answer), count (counts a
// token, to find requests handled twice), rooms (the connection's rooms),
// kickme (broadcasts {"kick":n} to the room given, then closes with
// 1011).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	wsredis "github.com/wshub/wshub/adapters/redis"
	"github.com/wshub/wshub/core"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "testserver:", err)
		os.Exit(1)
	}
}

// server is the state the admin endpoints read.
type server struct {
	hub *core.Hub

	mu       sync.Mutex
	connects []int64        // Unix ms of each upgrade, for the spread measurement
	tokens   map[string]int // count's tokens and how often each came
	kicks    int            // kickme requests so far
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	node := flag.String("node", "", "node ID")
	redisURL := flag.String("redis", "", "Redis URL: nodes share rooms and history")
	prefix := flag.String("prefix", "wshub-jstest", "Redis channel prefix")
	flag.Parse()

	s := &server{tokens: map[string]int{}}
	opts := []core.Option{
		core.WithConfig(core.DefaultConfig().WithRequests(true).WithCheckOrigin(func(*http.Request) bool { return true })),
		core.WithMessageHandler(s.router().Handle),
		core.WithDrainTimeout(50 * time.Millisecond),
		core.WithRoomOptions(core.RoomOptionsByPrefix(map[string]core.RoomOptions{
			"h:": {History: core.History{Size: 5000, TTL: time.Hour}},
			"p:": {History: core.History{Size: 5000, TTL: time.Hour},
				Presence: core.MemberPresence{Enabled: true, Linger: -1, Events: true}},
		})),
		core.WithHooks(core.Hooks{AfterConnect: s.connected}),
	}
	if *node != "" {
		opts = append(opts, core.WithNodeID(*node))
	}
	if *redisURL != "" {
		ropts, err := goredis.ParseURL(*redisURL)
		if err != nil {
			return err
		}
		rc := goredis.NewClient(ropts)
		defer func() { _ = rc.Close() }()
		ad, err := wsredis.New(rc, wsredis.WithChannelPrefix(*prefix))
		if err != nil {
			return err
		}
		opts = append(opts, core.WithAdapter(ad), core.WithPresence(time.Second))
	}
	s.hub = core.NewHub(opts...)
	go s.hub.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.hub.WaitRunning(ctx); err != nil {
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("/ws", s.hub.HandleHTTP())
	mux.HandleFunc("/admin/publish", s.publish)
	mux.HandleFunc("/admin/kick", s.kick)
	mux.HandleFunc("/admin/drain", s.drain)
	mux.HandleFunc("/admin/stats", s.stats)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("listening %s\n", ln.Addr())

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	stop, cancelStop := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelStop()
	_ = s.hub.Drain(stop)
	_ = s.hub.Shutdown(stop)
	return srv.Shutdown(stop)
}

// connected records the upgrade and takes the user ID from ?user=.
func (s *server) connected(c *core.Client) {
	s.mu.Lock()
	s.connects = append(s.connects, time.Now().UnixMilli())
	s.mu.Unlock()
	if u := c.Request().URL.Query().Get("user"); u != "" {
		_ = c.SetUserID(u)
	}
}

// request is what the request events read.
type request struct {
	Room  string          `json:"room"`
	Data  json.RawMessage `json:"data"`
	Token string          `json:"token"`
}

func (s *server) router() *core.Router {
	r := core.NewRouter(func(m *core.Message) string {
		var head struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(m.Data, &head)
		return head.Type
	})
	read := func(m *core.Message) (request, error) {
		var in request
		if err := m.JSON(&in); err != nil {
			return in, &core.ReplyError{Code: "bad_json", Message: err.Error()}
		}
		return in, nil
	}
	r.On("join", func(c *core.Client, m *core.Message) error {
		in, err := read(m)
		if err != nil {
			return err
		}
		if in.Room == "forbidden" {
			return &core.ReplyError{Code: "forbidden", Message: "not this room"}
		}
		if err := c.Hub().JoinRoom(c, in.Room); err != nil && !errors.Is(err, core.ErrAlreadyInRoom) {
			return err
		}
		return m.Reply(map[string]string{"room": in.Room})
	})
	r.On("leave", func(c *core.Client, m *core.Message) error {
		in, err := read(m)
		if err != nil {
			return err
		}
		_ = c.Hub().LeaveRoom(c, in.Room)
		return nil
	})
	r.On("echo", func(_ *core.Client, m *core.Message) error {
		in, err := read(m)
		if err != nil {
			return err
		}
		return m.Reply(in.Data)
	})
	r.On("fail", func(*core.Client, *core.Message) error {
		return &core.ReplyError{Code: "nope", Message: "this always fails"}
	})
	r.On("slow", func(_ *core.Client, m *core.Message) error {
		_, err := m.ReplyLater() // and never answered
		return err
	})
	r.On("say", func(c *core.Client, m *core.Message) error {
		in, err := read(m)
		if err != nil {
			return err
		}
		return c.Hub().BroadcastToRoom(in.Room, in.Data)
	})
	r.On("sayexcept", func(c *core.Client, m *core.Message) error {
		in, err := read(m)
		if err != nil {
			return err
		}
		return c.Hub().BroadcastToRoomExcept(in.Room, in.Data, c)
	})
	r.On("ask", func(c *core.Client, m *core.Message) error {
		in, err := read(m)
		if err != nil {
			return err
		}
		rs, err := m.ReplyLater()
		if err != nil {
			return err
		}
		go func() { // the client's answer comes through this read loop
			ctx, cancel := context.WithTimeout(c.Context(), 5*time.Second)
			defer cancel()
			res, err := c.Call(ctx, in.Room, in.Data) // room: the event to ask
			if err != nil {
				_ = rs.Fail(err)
				return
			}
			_ = rs.Reply(res)
		}()
		return nil
	})
	r.On("count", func(_ *core.Client, m *core.Message) error {
		in, err := read(m)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.tokens[in.Token]++
		s.mu.Unlock()
		return nil
	})
	r.On("rooms", func(c *core.Client, m *core.Message) error { return m.Reply(c.Rooms()) })
	r.On("kickme", func(c *core.Client, m *core.Message) error {
		in, err := read(m)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.kicks++
		n := s.kicks
		s.mu.Unlock()
		if in.Room != "" {
			_ = c.Hub().BroadcastToRoom(in.Room, fmt.Appendf(nil, `{"kick":%d}`, n))
		}
		return c.CloseWithCode(1011, "kicked")
	})
	return r
}

// publish broadcasts n messages {"n":i} to room: /admin/publish?room=h:a&n=10.
func (s *server) publish(w http.ResponseWriter, r *http.Request) {
	room := r.URL.Query().Get("room")
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	from, _ := strconv.Atoi(r.URL.Query().Get("from"))
	for i := range n {
		if err := s.hub.BroadcastToRoom(room, fmt.Appendf(nil, `{"n":%d}`, from+i)); err != nil && !errors.Is(err, core.ErrRoomNotFound) {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
}

// kick closes every connection with ?code= (default 1011).
func (s *server) kick(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.URL.Query().Get("code"))
	if err != nil {
		code = 1011
	}
	for _, c := range s.hub.Clients() {
		_ = c.CloseWithCode(code, r.URL.Query().Get("reason"))
	}
	w.WriteHeader(http.StatusNoContent)
}

// drain starts draining the hub; the response does not wait for it.
func (s *server) drain(w http.ResponseWriter, _ *http.Request) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.hub.Drain(ctx)
	}()
	w.WriteHeader(http.StatusAccepted)
}

// stats answers {"clients","connects":[ms...],"tokens":{...}}.
func (s *server) stats(w http.ResponseWriter, _ *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"clients":  s.hub.ClientCount(),
		"connects": s.connects,
		"tokens":   s.tokens,
		"node":     s.hub.NodeID(),
	})
}
