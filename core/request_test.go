package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// requestRouter is the router of the request tests: events named by the
// JSON "type" member.
func requestRouter() *Router {
	r := NewRouter(func(m *Message) string {
		var head struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(m.Data, &head)
		return head.Type
	})
	r.On("add", func(_ *Client, m *Message) error {
		var in struct{ A, B int }
		if err := m.JSON(&in); err != nil {
			return &ReplyError{Code: "bad_args", Message: err.Error()}
		}
		return m.Reply(map[string]int{"sum": in.A + in.B})
	})
	r.On("ack", func(*Client, *Message) error { return nil })
	r.On("refuse", func(*Client, *Message) error {
		return &ReplyError{Code: "not_allowed", Message: "you may not"}
	})
	r.On("fail", func(*Client, *Message) error { return errors.New("database is down at 10.0.0.7") })
	r.On("panic", func(*Client, *Message) error { panic("boom") })
	return r
}

func startRequestHub(t *testing.T, opts ...Option) (*Hub, *httptest.Server) {
	t.Helper()
	opts = append([]Option{
		WithConfig(DefaultConfig().WithRequests(true)),
		WithMessageHandler(requestRouter().Handle),
	}, opts...)
	return startHub(t, opts...)
}

// reply is a reply frame as a client reads it.
type reply struct {
	ID     *uint64         `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *replyErrorBody `json:"error"`
}

func readReply(t *testing.T, conn *websocket.Conn) reply {
	t.Helper()
	_, data := read(t, conn)
	var r reply
	require.NoError(t, json.Unmarshal([]byte(data), &r), data)
	return r
}

func TestRequestReplies(t *testing.T) {
	_, srv := startRequestHub(t)
	conn := dial(t, srv)
	tests := []struct {
		name       string
		give       string
		wantID     uint64 // 0: null
		wantResult string
		wantCode   string
	}{
		{name: "result", give: `{"type":"add","id":1,"a":2,"b":3}`, wantID: 1, wantResult: `{"sum":5}`},
		{name: "id first, spaces", give: ` { "id" : 9007199254740991 , "type":"add", "a":1,"b":1}`, wantID: 9007199254740991, wantResult: `{"sum":2}`},
		{name: "escaped id key", give: `{"type":"add","\u0069d":4,"a":1,"b":2}`, wantID: 4, wantResult: `{"sum":3}`},
		{name: "no result is null", give: `{"type":"ack","id":2}`, wantID: 2, wantResult: `null`},
		{name: "reply error", give: `{"type":"refuse","id":3}`, wantID: 3, wantCode: "not_allowed"},
		{name: "other error hides its text", give: `{"type":"fail","id":5}`, wantID: 5, wantCode: CodeInternal},
		{name: "unknown event", give: `{"type":"nope","id":6}`, wantID: 6, wantCode: CodeInvalidMessage},
		{name: "bad args", give: `{"type":"add","id":7,"a":"x"}`, wantID: 7, wantCode: "bad_args"},
		{name: "id zero", give: `{"type":"add","id":0}`, wantCode: CodeBadRequest},
		{name: "id negative", give: `{"type":"add","id":-1}`, wantCode: CodeBadRequest},
		{name: "id fraction", give: `{"type":"add","id":1.5}`, wantCode: CodeBadRequest},
		{name: "id exponent", give: `{"type":"add","id":1e3}`, wantCode: CodeBadRequest},
		{name: "id string", give: `{"type":"add","id":"7"}`, wantCode: CodeBadRequest},
		{name: "id too big", give: `{"type":"add","id":9007199254740992}`, wantCode: CodeBadRequest},
		{name: "reply to no call", give: `{"id":8,"result":1}`, wantCode: CodeUnknownReply},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(tt.give)))
			r := readReply(t, conn)
			if tt.wantID == 0 {
				assert.Nil(t, r.ID)
			} else if assert.NotNil(t, r.ID) {
				assert.Equal(t, tt.wantID, *r.ID)
			}
			if tt.wantCode != "" {
				require.NotNil(t, r.Error, "want error %s", tt.wantCode)
				assert.Equal(t, tt.wantCode, r.Error.Code)
				assert.NotContains(t, r.Error.Message, "10.0.0.7")
				assert.Nil(t, r.Result)
				return
			}
			assert.Nil(t, r.Error)
			assert.JSONEq(t, tt.wantResult, string(r.Result))
		})
	}
}

// Messages that are not requests get no reply, with or without Requests.
func TestOrdinaryMessagesGetNoReply(t *testing.T) {
	for _, requests := range []bool{false, true} {
		t.Run(fmt.Sprint("requests=", requests), func(t *testing.T) {
			got := make(chan string, 8)
			_, srv := startHub(t,
				WithConfig(DefaultConfig().WithRequests(requests)),
				WithMessageHandler(func(c *Client, m *Message) error {
					_, isReq := m.RequestID()
					got <- fmt.Sprintf("%s req=%v", m.Data, isReq)
					return c.SendText("echo")
				}))
			conn := dial(t, srv)
			msgs := []string{`not json "id"`, `["id",1]`, `{"type":"x","ids":1}`, `{"type":"x","data":{"id":3}}`, `"id"`}
			if !requests {
				msgs = append(msgs, `{"type":"x","id":5}`) // an app's own id: no reply without Requests
			}
			for _, m := range msgs {
				require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(m)))
				_, data := read(t, conn)
				require.Equal(t, "echo", data, "for %s", m)
				require.Equal(t, m+" req=false", <-got)
			}
		})
	}
}

// A handler's panic closes that connection with 1011 and no reply; other
// connections go on.
func TestRequestPanicClosesOneConnection(t *testing.T) {
	_, srv := startRequestHub(t)
	bad, good := dial(t, srv), dial(t, srv)
	require.NoError(t, bad.WriteMessage(websocket.TextMessage, []byte(`{"type":"panic","id":1}`)))
	assert.Equal(t, websocket.CloseInternalServerErr, readClose(t, bad).Code)
	require.NoError(t, good.WriteMessage(websocket.TextMessage, []byte(`{"type":"add","id":1,"a":1,"b":1}`)))
	assert.JSONEq(t, `{"sum":2}`, string(readReply(t, good).Result))
}

// A hook that refuses the message answers the request with its error.
func TestRequestRefusedByHook(t *testing.T) {
	_, srv := startRequestHub(t, WithHooks(Hooks{
		BeforeMessage: func(_ *Client, m *Message) (*Message, error) {
			if strings.Contains(string(m.Data), "secret") {
				return nil, &ReplyError{Code: "forbidden", Message: "no secrets"}
			}
			return m, nil
		},
	}))
	conn := dial(t, srv)
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"ack","id":3,"x":"secret"}`)))
	r := readReply(t, conn)
	require.NotNil(t, r.Error)
	assert.Equal(t, "forbidden", r.Error.Code)
	assert.Equal(t, uint64(3), *r.ID)
}

func TestDeferredReplies(t *testing.T) {
	responders := make(chan *Responder, MaxDeferredReplies+1)
	r := requestRouter()
	r.On("later", func(_ *Client, m *Message) error {
		rs, err := m.ReplyLater()
		if err != nil {
			return err
		}
		responders <- rs
		return nil
	})
	_, srv := startHub(t, WithConfig(DefaultConfig().WithRequests(true)), WithMessageHandler(r.Handle))
	conn := dial(t, srv)

	send := func(id int) {
		require.NoError(t, conn.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"later","id":%d}`, id)))
	}
	send(1)
	rs := <-responders
	// A second request with the id of one that waits is refused; others
	// are answered meanwhile.
	send(1)
	d := readReply(t, conn)
	require.NotNil(t, d.Error)
	assert.Equal(t, CodeDuplicateID, d.Error.Code)
	assert.Equal(t, uint64(1), *d.ID)
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"add","id":2,"a":1,"b":2}`)))
	assert.Equal(t, uint64(2), *readReply(t, conn).ID)

	require.NoError(t, rs.Reply("done"))
	require.ErrorIs(t, rs.Reply("again"), ErrAlreadyReplied)
	require.ErrorIs(t, rs.Fail(errors.New("x")), ErrAlreadyReplied)
	got := readReply(t, conn)
	assert.Equal(t, uint64(1), *got.ID)
	assert.JSONEq(t, `"done"`, string(got.Result))

	// The id is free again once answered.
	send(1)
	rs = <-responders
	require.NoError(t, rs.Fail(&ReplyError{Code: "gone", Message: "it left"}))
	got = readReply(t, conn)
	require.NotNil(t, got.Error)
	assert.Equal(t, "gone", got.Error.Code)

	// At most MaxDeferredReplies wait at once.
	var waiting []*Responder
	for i := range MaxDeferredReplies {
		send(100 + i)
		waiting = append(waiting, <-responders)
	}
	send(1000)
	over := readReply(t, conn)
	require.NotNil(t, over.Error)
	assert.Equal(t, CodeTooManyRequests, over.Error.Code)
	assert.Equal(t, uint64(1000), *over.ID)
	for _, rs := range waiting {
		require.NoError(t, rs.Reply(nil))
	}
	for range waiting {
		readReply(t, conn)
	}
}

func TestReplyOutsideRequest(t *testing.T) {
	m := NewTextMessage(`{"id":1}`)
	require.ErrorIs(t, m.Reply(1), ErrNotRequest)
	_, err := m.ReplyLater()
	require.ErrorIs(t, err, ErrNotRequest)
	_, ok := m.RequestID()
	assert.False(t, ok)
}

// The rate limit answers the requests it drops.
func TestRateLimitedRequestIsAnswered(t *testing.T) {
	_, srv := startRequestHub(t, WithLimits(DefaultLimits().WithMaxMessageRate(1)))
	conn := dial(t, srv)
	codes := map[string]int{}
	for i := 1; i <= 5; i++ {
		require.NoError(t, conn.WriteMessage(websocket.TextMessage, fmt.Appendf(nil, `{"type":"ack","id":%d}`, i)))
	}
	for range 5 {
		r := readReply(t, conn)
		if r.Error != nil {
			codes[r.Error.Code]++
		} else {
			codes["ok"]++
		}
	}
	assert.GreaterOrEqual(t, codes["ok"], 1)
	assert.GreaterOrEqual(t, codes[CodeRateLimited], 1)
	assert.Equal(t, 5, codes["ok"]+codes[CodeRateLimited], codes)
}

// callClient answers the server's calls as the client package does: echo
// the data, or an error for the event "fail"; the event "slow" is never
// answered. It returns the writer the test shares with it.
func callClient(t *testing.T, conn *websocket.Conn) (write func([]byte) error) {
	t.Helper()
	var mu sync.Mutex
	write = func(b []byte) error {
		mu.Lock()
		defer mu.Unlock()
		return conn.WriteMessage(websocket.TextMessage, b)
	}
	go func() {
		for {
			_, data, err := conn.ReadMessage()
			if err != nil {
				return
			}
			var in struct {
				ID    uint64          `json:"id"`
				Event string          `json:"event"`
				Data  json.RawMessage `json:"data"`
			}
			if json.Unmarshal(data, &in) != nil || in.Event == "" {
				continue
			}
			var out []byte
			switch in.Event {
			case "slow":
				continue
			case "fail":
				out = fmt.Appendf(nil, `{"id":%d,"error":{"code":"nope","message":"will not"}}`, in.ID)
			case "malformed":
				out = fmt.Appendf(nil, `{"id":%d,"error":"not an object"}`, in.ID)
			default:
				out = fmt.Appendf(nil, `{"id":%d,"result":{"echo":%s}}`, in.ID, in.Data)
			}
			if write(out) != nil {
				return
			}
		}
	}()
	return write
}

func TestCall(t *testing.T) {
	for _, requests := range []bool{false, true} {
		t.Run(fmt.Sprint("requests=", requests), func(t *testing.T) {
			errs := make(chan error, 4)
			msgs := make(chan string, 4)
			h, srv := startHub(t,
				WithConfig(DefaultConfig().WithRequests(requests)),
				WithHooks(Hooks{OnError: func(_ *Client, err error) { errs <- err }}),
				WithMessageHandler(func(_ *Client, m *Message) error { msgs <- string(m.Data); return nil }))
			conn, c := dialWait(t, h, srv)
			write := callClient(t, conn)
			ctx := contextWithTimeout(t, 5*time.Second)

			res, err := c.Call(ctx, "ping", map[string]int{"n": 1})
			require.NoError(t, err)
			assert.JSONEq(t, `{"echo":{"n":1}}`, string(res))

			res, err = c.Call(ctx, "ping", json.RawMessage(`[1,2]`))
			require.NoError(t, err)
			assert.JSONEq(t, `{"echo":[1,2]}`, string(res))

			_, err = c.Call(ctx, "fail", nil)
			var re *ReplyError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, "nope", re.Code)
			assert.Equal(t, "will not", re.Message)

			_, err = c.Call(ctx, "malformed", nil)
			require.ErrorAs(t, err, &re)
			assert.Equal(t, CodeBadRequest, re.Code)

			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			_, err = c.Call(short, "slow", nil)
			cancel()
			require.ErrorIs(t, err, context.DeadlineExceeded)

			_, err = c.Call(ctx, "ping", []byte(`{not json`))
			require.Error(t, err)

			// Concurrent calls each get their own answer.
			var wg sync.WaitGroup
			for i := range 50 {
				wg.Go(func() {
					res, err := c.Call(ctx, "ping", i)
					if assert.NoError(t, err) {
						assert.JSONEq(t, fmt.Sprintf(`{"echo":%d}`, i), string(res))
					}
				})
			}
			wg.Wait()
			assert.Empty(t, msgs, "replies must not reach the handler")

			// A late reply (its call timed out) is reported and dropped.
			require.NoError(t, write([]byte(`{"id":5,"result":1}`)))
			select {
			case err := <-errs:
				require.ErrorIs(t, err, ErrUnknownReply)
			case <-ctx.Done():
				t.Fatal("no ErrUnknownReply")
			}
			assert.Empty(t, msgs)
		})
	}
}

func TestCallEndsWithConnection(t *testing.T) {
	h, srv := startHub(t)
	conn, c := dialWait(t, h, srv)
	ctx := contextWithTimeout(t, 5*time.Second)
	done := make(chan error, 1)
	go func() {
		_, err := c.Call(ctx, "slow", nil)
		done <- err
	}()
	_, data := read(t, conn) // the call's frame
	assert.Contains(t, data, `"event":"slow"`)
	require.NoError(t, conn.Close())
	select {
	case err := <-done:
		require.ErrorIs(t, err, ErrConnectionClosed)
	case <-ctx.Done():
		t.Fatal("call outlived its connection")
	}
	require.Eventually(t, c.IsClosed, 5*time.Second, time.Millisecond)
	_, err := c.Call(ctx, "again", nil)
	require.ErrorIs(t, err, ErrConnectionClosed)
}

func TestTooManyCalls(t *testing.T) {
	h, srv := startHub(t, WithConfig(DefaultConfig().WithSendChannelSize(2*MaxPendingCalls)))
	_, c := dialWait(t, h, srv)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range MaxPendingCalls {
		wg.Go(func() { _, _ = c.Call(ctx, "slow", nil) })
	}
	require.Eventually(t, func() bool {
		r := c.rq.Load()
		if r == nil {
			return false
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.calls) == MaxPendingCalls
	}, 5*time.Second, time.Millisecond)
	_, err := c.Call(ctx, "one more", nil)
	require.ErrorIs(t, err, ErrTooManyCalls)
	cancel()
	wg.Wait()
	r := c.rq.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	assert.Empty(t, r.calls, "ended calls are forgotten")
}

// An oversized request closes its connection with 1009, as any message.
func TestOversizedRequestCloses(t *testing.T) {
	_, srv := startRequestHub(t, WithConfig(DefaultConfig().WithRequests(true).WithMaxMessageSize(64)))
	conn := dial(t, srv)
	big := fmt.Sprintf(`{"type":"ack","id":1,"pad":"%s"}`, strings.Repeat("x", 100))
	require.NoError(t, conn.WriteMessage(websocket.TextMessage, []byte(big)))
	assert.Equal(t, websocket.CloseMessageTooBig, readClose(t, conn).Code)
}

// The inbound rate limit never drops a reply a call waits for: the call
// would wait until its deadline.
func TestCallReplyPassesRateLimit(t *testing.T) {
	h, srv := startHub(t, WithLimits(DefaultLimits().WithMaxMessageRate(1)),
		WithMessageHandler(func(*Client, *Message) error { return nil }))
	conn, c := dialWait(t, h, srv)
	write := callClient(t, conn)
	for range 5 { // spend the second's tokens
		require.NoError(t, write([]byte(`{"type":"noise"}`)))
	}
	ctx := contextWithTimeout(t, 5*time.Second)
	for i := range 3 {
		res, err := c.Call(ctx, "ping", i)
		require.NoError(t, err, "call %d", i)
		assert.JSONEq(t, fmt.Sprintf(`{"echo":%d}`, i), string(res))
	}
}

// An empty payload is sent as null, not as invalid JSON.
func TestCallEmptyPayload(t *testing.T) {
	h, srv := startHub(t)
	conn, c := dialWait(t, h, srv)
	callClient(t, conn)
	ctx := contextWithTimeout(t, 5*time.Second)
	for _, payload := range []any{json.RawMessage{}, []byte{}, nil} {
		res, err := c.Call(ctx, "ping", payload)
		require.NoError(t, err)
		assert.JSONEq(t, `{"echo":null}`, string(res))
	}
}
