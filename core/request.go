package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
)

// Requests and replies, in both directions (docs/protocol.md is the frame
// format). With Config.Requests on, a text message that is a JSON object
// with an "id" member is a request: the hub runs it through the message
// handler as any message, then answers it with a reply frame carrying the
// same id and the handler's result (Message.Reply) or its error
// (ReplyError). The server asks a client with Client.Call.

// Bounds of the requests that wait on one connection.
const (
	// MaxDeferredReplies is how many of a client's requests may wait for
	// a reply sent later (Message.ReplyLater) at once; more are answered
	// with CodeTooManyRequests.
	MaxDeferredReplies = 64
	// MaxPendingCalls is how many Client.Call requests may wait for the
	// client's reply at once; more return ErrTooManyCalls.
	MaxPendingCalls = 256
)

var (
	// ErrTooManyCalls is returned by Client.Call when MaxPendingCalls calls
	// to that client already wait for a reply.
	ErrTooManyCalls = errors.New("wshub: too many calls waiting for the client's reply")
	// ErrAlreadyReplied is returned by a second reply to one request.
	ErrAlreadyReplied = errors.New("wshub: request already answered")
	// ErrNotRequest is returned by Message.Reply and Message.ReplyLater for
	// a message that is not a request (Config.Requests off, or no "id").
	ErrNotRequest = errors.New("wshub: message is not a request")
	// ErrUnknownReply is reported to the OnError hooks for a reply from a
	// client that no Call waits for (it came after the call's deadline).
	ErrUnknownReply = errors.New("wshub: reply to no pending call")
)

// ReplyError is an error with a code for the client: returned by a handler
// of a request (or given to Responder.Fail), it becomes the reply's error
// as it is; any other error becomes CodeInternal with a generic message.
// Client.Call returns one when the client answered with an error.
type ReplyError struct {
	// Code is a short machine-readable word the client can switch on,
	// such as "not_found". Empty becomes "error".
	Code string
	// Message is a human-readable explanation.
	Message string
}

// Error returns "wshub: reply error <code>: <message>".
func (e *ReplyError) Error() string {
	return "wshub: reply error " + e.Code + ": " + e.Message
}

// inboundRequest is the request a Message carries.
type inboundRequest struct {
	c        *Client
	id       uint64
	result   []byte // set by Message.Reply
	deferred bool   // ReplyLater handed the reply to a Responder
	done     atomic.Bool
}

// RequestID returns the message's request ID and true when it is a request
// (Config.Requests on and the message has a valid "id").
func (m *Message) RequestID() (uint64, bool) {
	if m == nil || m.req == nil {
		return 0, false
	}
	return m.req.id, true
}

// Reply sets the result of the request m, sent when the handler returns
// nil: v encoded as JSON (a json.RawMessage as it is). Without a Reply the
// result is null. A handler that returns an error sends that error instead.
// It returns ErrNotRequest for a message that is not a request and
// ErrAlreadyReplied after ReplyLater.
func (m *Message) Reply(v any) error {
	if m == nil || m.req == nil {
		return ErrNotRequest
	}
	if m.req.deferred {
		return ErrAlreadyReplied
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("wshub: encode reply: %w", err)
	}
	m.req.result = b
	return nil
}

// ReplyLater takes the reply of the request m out of the handler's hands:
// the hub sends nothing when the handler returns (unless it returns an
// error), and the returned Responder sends the reply later, from any
// goroutine. A request that is never answered times out on the client,
// and holds its place among the client's waiting requests until the
// connection ends. At
// most MaxDeferredReplies requests of a client wait at once: beyond that
// it returns a *ReplyError with CodeTooManyRequests, which the handler
// returns to answer the request with it. For a message that is not a
// request it returns ErrNotRequest.
func (m *Message) ReplyLater() (*Responder, error) {
	if m == nil || m.req == nil {
		return nil, ErrNotRequest
	}
	r := m.req
	if r.deferred {
		return nil, ErrAlreadyReplied
	}
	if !r.c.deferReply(r.id) {
		return nil, &ReplyError{Code: CodeTooManyRequests, Message: "too many requests wait for a reply"}
	}
	r.deferred = true
	return &Responder{r: r}, nil
}

// Responder answers one request after its handler returned
// (Message.ReplyLater). Its methods are safe for concurrent use; the first
// answer wins and later ones return ErrAlreadyReplied.
type Responder struct {
	r *inboundRequest
}

// Reply sends v, encoded as JSON, as the request's result. It returns
// ErrAlreadyReplied after an earlier answer and the send's error (for
// example ErrConnectionClosed) otherwise.
func (rs *Responder) Reply(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("wshub: encode reply: %w", err)
	}
	if !rs.r.done.CompareAndSwap(false, true) {
		return ErrAlreadyReplied
	}
	rs.r.c.undeferReply(rs.r.id)
	return rs.r.c.sendReply(appendReply(nil, rs.r.id, b))
}

// Fail sends err as the request's error: a ReplyError as it is, any other
// error as CodeInternal.
func (rs *Responder) Fail(err error) error {
	if !rs.r.done.CompareAndSwap(false, true) {
		return ErrAlreadyReplied
	}
	rs.r.c.undeferReply(rs.r.id)
	code, msg := replyErrorOf(err)
	return rs.r.c.sendReply(appendErrorReply(nil, rs.r.id, code, msg))
}

// replyErrorOf is the code and message a handler's error is answered with.
func replyErrorOf(err error) (code, msg string) {
	var re *ReplyError
	switch {
	case errors.As(err, &re):
		code = re.Code
		if code == "" {
			code = "error"
		}
		return code, re.Message
	case errors.Is(err, ErrInvalidMessage):
		return CodeInvalidMessage, "the server does not take this message"
	default:
		return CodeInternal, "internal error"
	}
}

// requests is a client's request state, created by its first request or
// call.
type requests struct {
	mu       sync.Mutex
	deferred map[uint64]struct{}     // IDs of the client's requests answered later
	calls    map[uint64]chan callOut // the server's calls waiting for a reply
	nextCall uint64
}

// callOut is a client's answer to a call.
type callOut struct {
	result json.RawMessage
	err    error
}

// reqs returns c's request state, creating it.
func (c *Client) reqs() *requests {
	if r := c.rq.Load(); r != nil {
		return r
	}
	r := &requests{}
	if c.rq.CompareAndSwap(nil, r) {
		return r
	}
	return c.rq.Load()
}

// deferReply records a request answered later; false when the client
// already has MaxDeferredReplies. (A request whose ID is one of them was
// answered with CodeDuplicateID before its dispatch: see requestOf.)
func (c *Client) deferReply(id uint64) bool {
	r := c.reqs()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.deferred) >= MaxDeferredReplies {
		return false
	}
	if r.deferred == nil {
		r.deferred = make(map[uint64]struct{})
	}
	r.deferred[id] = struct{}{}
	return true
}

func (c *Client) undeferReply(id uint64) {
	r := c.reqs()
	r.mu.Lock()
	delete(r.deferred, id)
	r.mu.Unlock()
}

// isDeferred reports whether id is a request of c still waiting for a
// later reply.
func (c *Client) isDeferred(id uint64) bool {
	r := c.rq.Load()
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.deferred[id]
	return ok
}

// Call sends the client a request for event with payload (encoded as JSON;
// a json.RawMessage or []byte of JSON as it is) and waits for its reply. It
// returns the reply's result as raw JSON, a *ReplyError when the client
// answered with an error, ctx's error when ctx ends first, ErrConnectionClosed
// when the connection ends first, and ErrTooManyCalls when MaxPendingCalls
// calls already wait. The request waits for queue space like
// SendWithContext. A reply that comes after the call ended is dropped and
// reported to the OnError hooks as ErrUnknownReply.
//
// The client's reply is read by the goroutine that runs the handlers of
// its messages: a handler that calls Call on its own client must do so
// from another goroutine (and answer its request with ReplyLater), or the
// call waits for a reply that cannot be read until ctx ends.
func (c *Client) Call(ctx context.Context, event string, payload any) (json.RawMessage, error) {
	var data []byte
	switch p := payload.(type) {
	case json.RawMessage:
		data = p
	case []byte:
		data = p
	default:
		b, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("wshub: encode call payload: %w", err)
		}
		data = b
	}
	if len(data) == 0 {
		data = nil // null
	} else if !json.Valid(data) {
		return nil, errors.New("wshub: call payload is not JSON")
	}
	r := c.reqs()
	out := make(chan callOut, 1) // one answer; the sender never waits
	r.mu.Lock()
	if len(r.calls) >= MaxPendingCalls {
		r.mu.Unlock()
		return nil, ErrTooManyCalls
	}
	r.nextCall++
	if r.nextCall > MaxRequestID {
		r.nextCall = 1
	}
	id := r.nextCall
	if r.calls == nil {
		r.calls = make(map[uint64]chan callOut)
	}
	r.calls[id] = out
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.calls, id)
		r.mu.Unlock()
	}()

	if err := c.SendWithContext(ctx, appendCall(nil, id, event, data)); err != nil {
		return nil, err
	}
	select {
	case o := <-out:
		return o.result, o.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.Context().Done():
		select {
		case o := <-out: // answered just before the end
			return o.result, o.err
		default:
			return nil, ErrConnectionClosed
		}
	}
}

// takeReply hands a reply frame from the client to the call waiting for
// it. It reports false when no call waits for f.id.
func (c *Client) takeReply(f scannedFrame) bool {
	r := c.rq.Load()
	if r == nil {
		return false
	}
	r.mu.Lock()
	out, ok := r.calls[f.id]
	delete(r.calls, f.id)
	r.mu.Unlock()
	if !ok {
		return false
	}
	var o callOut
	if f.err != nil {
		var body replyErrorBody
		if json.Unmarshal(f.err, &body) != nil || body.Code == "" {
			body = replyErrorBody{Code: CodeBadRequest, Message: "malformed error in reply: " + truncate(string(f.err), 128)}
		}
		o.err = &ReplyError{Code: body.Code, Message: body.Message}
	} else {
		o.result = json.RawMessage(append([]byte(nil), f.result...))
	}
	out <- o // buffered for this one answer
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// requestOf reads the request and reply frames of a text message when the
// hub takes requests (Config.Requests) or c was ever called (Client.Call).
// It reports handled when the message was a reply, or a malformed or
// duplicate request already answered; otherwise req is the request msg
// is, nil for an ordinary message.
func (c *Client) requestOf(msg *Message) (req *inboundRequest, handled bool) {
	takes := c.hub.cfg.Requests
	if !takes && c.rq.Load() == nil {
		return nil, false
	}
	f := scanFrame(msg.Data)
	switch f.kind {
	case frameReply:
		if c.takeReply(f) {
			return nil, true
		}
		// A late reply (its call ended) or a made-up one: dropped, and
		// told to the client when the hub speaks the protocol.
		c.reportError(fmt.Errorf("%w: id %d", ErrUnknownReply, f.id))
		if takes {
			_ = c.sendReply(appendErrorReply(nil, 0, CodeUnknownReply, "no request "+strconv.FormatUint(f.id, 10)+" waits for a reply"))
		}
		return nil, true
	case frameRequest:
		if !takes {
			return nil, false
		}
		if c.isDeferred(f.id) {
			_ = c.sendReply(appendErrorReply(nil, f.id, CodeDuplicateID, "a request with this id waits for its reply"))
			return nil, true
		}
		return &inboundRequest{c: c, id: f.id}, false
	case frameBadID:
		if !takes {
			return nil, false
		}
		_ = c.sendReply(appendErrorReply(nil, 0, CodeBadRequest, "the id must be an integer from 1 to 2^53-1"))
		return nil, true
	}
	return nil, false
}

// answer sends the reply of req once its handler returned err.
func (req *inboundRequest) answer(err error) {
	if err != nil {
		if req.deferred && !req.done.CompareAndSwap(false, true) {
			return // the Responder answered already
		}
		if req.deferred {
			req.c.undeferReply(req.id)
		}
		code, msg := replyErrorOf(err)
		_ = req.c.sendReply(appendErrorReply(nil, req.id, code, msg))
		return
	}
	if req.deferred {
		return
	}
	_ = req.c.sendReply(appendReply(nil, req.id, req.result))
}

// passLimit decides on a text message the inbound rate limit refused, with
// one scan: a reply that one of c's calls waits for passes (dropping it
// would leave the call waiting until its deadline); a request is answered
// with CodeRateLimited and dropped, as is anything else.
func (c *Client) passLimit(data []byte) bool {
	takes := c.hub.cfg.Requests
	if !takes && c.rq.Load() == nil {
		return false
	}
	switch f := scanFrame(data); f.kind {
	case frameReply:
		if r := c.rq.Load(); r != nil {
			r.mu.Lock()
			_, waits := r.calls[f.id]
			r.mu.Unlock()
			return waits
		}
	case frameRequest:
		if takes {
			_ = c.sendReply(appendErrorReply(nil, f.id, CodeRateLimited, "rate limit exceeded"))
		}
	}
	return false
}

// sendReply queues a reply frame past the queue's bounds if need be, so
// that the drop policy never loses an answer the client waits for. The
// read pump waits for queue space before it handles each message, and at
// most MaxDeferredReplies answers come from elsewhere, so replies exceed
// the bounds by a few frames at most.
func (c *Client) sendReply(b []byte) error {
	f, err := c.hub.frameFor(TextMessage, b)
	if err != nil {
		return err
	}
	return c.enqueueOver(f)
}
