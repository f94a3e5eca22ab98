package core_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wshub/wshub/core"
)

func ExampleNewHub() {
	hub := core.NewHub()
	fmt.Println("clients:", hub.ClientCount())
	fmt.Println("state:", hub.State())
	// Output:
	// clients: 0
	// state: created
}

func ExampleNewHub_withOptions() {
	hub := core.NewHub(
		core.WithConfig(core.DefaultConfig().WithMaxMessageSize(4096)),
		core.WithLimits(core.DefaultLimits().WithMaxConnections(1000)),
		core.WithLogger(&core.NoOpLogger{}),
		core.WithMetrics(core.NewDebugMetrics()),
		core.WithNodeID("pod-web-1"),
	)
	fmt.Println("node:", hub.NodeID())
	// Output: node: pod-web-1
}

// A complete round trip: run a hub, serve it, connect, echo.
func ExampleHub_HandleHTTP() {
	hub := core.NewHub(core.WithMessageHandler(func(c *core.Client, m *core.Message) error {
		return c.SendText("echo: " + m.Text())
	}))
	go hub.Run()
	if err := hub.WaitRunning(context.Background()); err != nil {
		panic(err)
	}
	srv := httptest.NewServer(hub.HandleHTTP())
	defer srv.Close()

	conn, resp, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		panic(err)
	}
	_ = resp.Body.Close()
	_ = conn.WriteMessage(websocket.TextMessage, []byte("hello"))
	_, data, _ := conn.ReadMessage()
	fmt.Println(string(data))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hub.Shutdown(ctx)
	_, _, err = conn.ReadMessage()
	fmt.Println("closed with 1001:", websocket.IsCloseError(err, websocket.CloseGoingAway))
	// Output:
	// echo: hello
	// closed with 1001: true
}

func ExampleHub_Health() {
	hub := core.NewHub()
	hs := hub.Health()
	fmt.Println("alive:", hs.Alive, "ready:", hs.Ready, "state:", hs.State)
	go hub.Run()
	_ = hub.WaitRunning(context.Background())
	fmt.Println("ready after Run:", hub.Ready())
	_ = hub.Shutdown(context.Background())
	fmt.Println("ready after Shutdown:", hub.Ready())
	// Output:
	// alive: false ready: false state: created
	// ready after Run: true
	// ready after Shutdown: false
}

func ExampleHub_ReadyHandler() {
	hub := core.NewHub()
	rec := httptest.NewRecorder()
	hub.ReadyHandler()(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	fmt.Println(rec.Code, body["state"])
	// Output: 503 created
}

func ExampleHub_GlobalClientCount() {
	// Without presence the global counts are the local ones.
	hub := core.NewHub()
	fmt.Println("global:", hub.GlobalClientCount(), "lobby:", hub.GlobalRoomCount("lobby"))
	// Output: global: 0 lobby: 0
}

func ExampleDefaultConfig() {
	cfg := core.DefaultConfig()
	fmt.Println("compression:", cfg.EnableCompression, "queue:", cfg.SendChannelSize, "max:", cfg.MaxMessageSize)
	custom := cfg.WithMaxMessageSize(1024).WithCompression(true)
	fmt.Println("custom compression:", custom.EnableCompression)
	// Output:
	// compression: false queue: 256 max: 524288
	// custom compression: true
}

func ExampleDefaultLimits() {
	limits := core.DefaultLimits().WithMaxConnections(5000).WithMaxRoomsPerClient(10)
	fmt.Println(limits.MaxConnections, limits.MaxRoomsPerClient, limits.MaxMessageRate)
	// Output: 5000 10 0
}

func ExampleNewRouter() {
	router := core.NewRouter(func(m *core.Message) string {
		var env struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(m.Data, &env)
		return env.Type
	})
	router.On("ping", func(_ *core.Client, _ *core.Message) error {
		fmt.Println("got ping")
		return nil
	})
	_ = router.Handle(nil, core.NewMessage([]byte(`{"type":"ping"}`)))
	err := router.Handle(nil, core.NewMessage([]byte(`{"type":"nope"}`)))
	fmt.Println(err)
	// Output:
	// got ping
	// wshub: invalid message
}

func ExampleNewMiddlewareChain() {
	chain := core.NewMiddlewareChain(func(_ *core.Client, m *core.Message) error {
		panic("bad handler")
	}).Use(core.RecoveryMiddleware(&core.NoOpLogger{})).Build()
	err := chain.Execute(nil, core.NewTextMessage("x"))
	fmt.Println(err)
	// Output: wshub: invalid message: handler panicked: bad handler
}

func ExampleNewJSONMessage() {
	msg, err := core.NewJSONMessage(map[string]string{"event": "chat"})
	if err != nil {
		panic(err)
	}
	var decoded map[string]string
	_ = msg.JSON(&decoded)
	fmt.Println(decoded["event"], msg.Type == core.TextMessage)
	// Output: chat true
}

func ExampleNewDebugMetrics() {
	m := core.NewDebugMetrics()
	m.IncrementConnections()
	m.IncrementMessagesReceived()
	m.IncrementErrors("panic")
	s := m.Stats()
	fmt.Println(s.ActiveConnections, s.TotalMessagesRecv, s.Errors["panic"])
	// Output: 1 1 1
}

func ExampleWithDropPolicy() {
	hub := core.NewHub(
		core.WithDropPolicy(core.DropOldest),
		core.WithHooks(core.Hooks{OnSendDropped: func(c *core.Client, data []byte) {
			fmt.Printf("dropped %d bytes for %s\n", len(data), c.ID)
		}}),
	)
	fmt.Println("clients:", hub.ClientCount())
	// Output: clients: 0
}

func ExampleWithParallelBroadcast() {
	// Accepted for compatibility; it changes nothing.
	hub := core.NewHub(core.WithParallelBroadcast(100))
	fmt.Println("clients:", hub.ClientCount())
	// Output: clients: 0
}

func ExampleWithoutHandlerLatency() {
	metrics := core.NewDebugMetrics()
	chain := core.NewMiddlewareChain(func(*core.Client, *core.Message) error { return nil }).
		Use(core.MetricsMiddleware(metrics)).Build()
	hub := core.NewHub(
		core.WithMetrics(metrics),
		core.WithMessageHandler(chain.Handler()),
		core.WithoutHandlerLatency(), // MetricsMiddleware records it
	)
	fmt.Println("clients:", hub.ClientCount())
	// Output: clients: 0
}
