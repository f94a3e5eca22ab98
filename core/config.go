package core

import (
	"net/http"
	"time"
)

// Config holds the per-connection WebSocket settings of a hub.
type Config struct {
	// ReadBufferSize is the size of each connection's read buffer in bytes
	// (at least 128). On TCP and Unix sockets a connection holds it only
	// while the peer's bytes are being read, and a silent connection holds
	// none: the buffers are shared through a pool. Other connections, such
	// as TLS ones, hold it for their life. Default 1024.
	ReadBufferSize int
	// WriteBufferSize is the size of the write buffers, taken from a shared
	// pool only while a connection writes through gorilla (compressed
	// frames); idle connections hold none. Default 1024.
	WriteBufferSize int
	// WriteWait bounds one write (a batch of frames) to a socket. Default 10s.
	WriteWait time.Duration
	// PongWait is how long a connection may stay silent (no message, no pong)
	// before it is closed. Default 60s.
	PongWait time.Duration
	// PingPeriod is the interval between pings; it must be below PongWait.
	// Default 54s.
	PingPeriod time.Duration
	// MaxMessageSize is the largest inbound message in bytes; a larger one
	// closes the connection with 1009. With compression it bounds the
	// decompressed size. Default 512 KiB; at most 2^58.
	MaxMessageSize int64
	// SendChannelSize bounds the messages waiting for one client's socket,
	// including those being written; the DropPolicy applies when it is
	// reached. The queue holds no memory while empty. Default 256.
	SendChannelSize int
	// MaxQueuedBytes bounds the payload bytes waiting for one client's
	// socket, including those being written: a message is queued while
	// fewer bytes than this wait, so a client holds at most MaxQueuedBytes
	// plus one message. The DropPolicy applies when it is reached. Default
	// 4 MiB, never less than MaxMessageSize: room for 256 messages of
	// 16 KiB (below that size SendChannelSize is the bound that applies),
	// or a few seconds of a feed of large updates, while 1,000 clients that
	// stopped reading hold 4 GiB at worst, and far less when they share
	// broadcast frames (a broadcast queues one frame for all).
	MaxQueuedBytes int64
	// MessageReadTimeout bounds the time an inbound message may take to
	// arrive once it started waiting on the network (a large or fragmented
	// message); a message that takes longer closes the connection with
	// 1008. Default 30s; negative disables the bound.
	MessageReadTimeout time.Duration
	// MaxInboundBytes bounds the bytes that all connections of the hub
	// together hold in inbound messages still being received; messages up to
	// 4 KiB are not counted. A message that would pass it closes its
	// connection with 1013 (try again later). Zero (the default) means the
	// larger of 64 MiB and 8 × MaxMessageSize; negative disables the bound.
	MaxInboundBytes int64
	// DisableUTF8Validation turns off the UTF-8 checks of text messages: an
	// inbound text message that is not valid UTF-8 then reaches the handler
	// instead of closing the connection with 1007, and text sends are not
	// checked before they are queued. Browsers fail a connection that
	// receives invalid text, so turn the checks off only when every sender
	// is trusted. Default false: checked.
	DisableUTF8Validation bool
	// EnableCompression negotiates permessage-deflate with clients that offer
	// it. Default false.
	EnableCompression bool
	// CoalesceWrites joins consecutive queued text messages into one frame
	// separated by '\n'; receivers must split on '\n'. Binary messages stay
	// separate frames. Default false: the write pump already sends a batch of
	// separate frames with one syscall, which keeps message boundaries.
	CoalesceWrites bool
	// CheckOrigin validates the Origin header of upgrades. Default
	// AllowSameOrigin.
	CheckOrigin func(r *http.Request) bool
	// Subprotocols lists the subprotocols the server supports, most
	// preferred first; the server's order wins.
	Subprotocols []string
	// HandshakeTimeout bounds writing the upgrade response. Default 10s.
	// Bound the time to read the request itself with http.Server's
	// ReadHeaderTimeout.
	HandshakeTimeout time.Duration
	// WriteLinger makes a write pump that found a batch of more than one
	// frame wait this long before its next batch, so that under load more
	// frames share one syscall. Zero (the default) batches adaptively
	// instead: after such a batch the pump yields the processor a few
	// times, which costs nothing on an idle node and lengthens with the
	// number of runnable goroutines, so batches grow with the load.
	WriteLinger time.Duration
	// Requests makes the hub answer requests: a text message that is a
	// JSON object with an integer "id" member gets a reply frame with the
	// same id, carrying the handler's result (Message.Reply) or its error
	// (ReplyError). docs/protocol.md gives the frames. Default false, so
	// that applications whose messages have an "id" of their own get no
	// replies they did not ask for. Client.Call works either way.
	Requests bool
}

// maxMessageSizeCap is the largest MaxMessageSize the hub takes: more is as
// good as unlimited, and the bounds derived from it stay within int64.
const maxMessageSizeCap = 1 << 58

// DefaultConfig returns the default Config.
func DefaultConfig() Config {
	return Config{
		ReadBufferSize:     1024,
		WriteBufferSize:    1024,
		WriteWait:          10 * time.Second,
		PongWait:           60 * time.Second,
		PingPeriod:         54 * time.Second,
		MaxMessageSize:     512 * 1024,
		SendChannelSize:    256,
		MaxQueuedBytes:     4 << 20,
		MessageReadTimeout: 30 * time.Second,
		CheckOrigin:        AllowSameOrigin,
		HandshakeTimeout:   10 * time.Second,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.ReadBufferSize <= 0 {
		c.ReadBufferSize = d.ReadBufferSize
	}
	if c.WriteBufferSize <= 0 {
		c.WriteBufferSize = d.WriteBufferSize
	}
	if c.WriteWait <= 0 {
		c.WriteWait = d.WriteWait
	}
	if c.PongWait <= 0 {
		c.PongWait = d.PongWait
	}
	if c.PingPeriod <= 0 || c.PingPeriod >= c.PongWait {
		c.PingPeriod = c.PongWait * 9 / 10
	}
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = d.MaxMessageSize
	}
	c.MaxMessageSize = min(c.MaxMessageSize, maxMessageSizeCap)
	if c.SendChannelSize <= 0 {
		c.SendChannelSize = d.SendChannelSize
	}
	if c.MaxQueuedBytes <= 0 {
		c.MaxQueuedBytes = d.MaxQueuedBytes
	}
	c.MaxQueuedBytes = max(c.MaxQueuedBytes, c.MaxMessageSize)
	if c.MessageReadTimeout == 0 {
		c.MessageReadTimeout = d.MessageReadTimeout
	}
	if c.MaxInboundBytes == 0 {
		c.MaxInboundBytes = max(64<<20, 8*c.MaxMessageSize)
	}
	if c.CheckOrigin == nil {
		c.CheckOrigin = AllowSameOrigin
	}
	if c.HandshakeTimeout <= 0 {
		c.HandshakeTimeout = d.HandshakeTimeout
	}
	return c
}

// WithRequests returns a copy of c with Requests set to enabled.
func (c Config) WithRequests(enabled bool) Config { c.Requests = enabled; return c }

// WithBufferSizes returns a copy of c with the read and write buffer sizes set.
func (c Config) WithBufferSizes(read, write int) Config {
	c.ReadBufferSize, c.WriteBufferSize = read, write
	return c
}

// WithCheckOrigin returns a copy of c with CheckOrigin set to fn.
func (c Config) WithCheckOrigin(fn func(r *http.Request) bool) Config { c.CheckOrigin = fn; return c }

// WithCoalesceWrites returns a copy of c with CoalesceWrites set.
func (c Config) WithCoalesceWrites(enabled bool) Config { c.CoalesceWrites = enabled; return c }

// WithCompression returns a copy of c with EnableCompression set.
func (c Config) WithCompression(enabled bool) Config { c.EnableCompression = enabled; return c }

// WithMaxMessageSize returns a copy of c with MaxMessageSize set.
func (c Config) WithMaxMessageSize(size int64) Config { c.MaxMessageSize = size; return c }

// WithSendChannelSize returns a copy of c with SendChannelSize set.
func (c Config) WithSendChannelSize(size int) Config { c.SendChannelSize = size; return c }

// WithSubprotocols returns a copy of c with Subprotocols set.
func (c Config) WithSubprotocols(protocols ...string) Config { c.Subprotocols = protocols; return c }

// WithTimeouts returns a copy of c with WriteWait, PongWait and PingPeriod set.
func (c Config) WithTimeouts(writeWait, pongWait, pingPeriod time.Duration) Config {
	c.WriteWait, c.PongWait, c.PingPeriod = writeWait, pongWait, pingPeriod
	return c
}

// WithMaxQueuedBytes returns a copy of c with MaxQueuedBytes set.
func (c Config) WithMaxQueuedBytes(n int64) Config { c.MaxQueuedBytes = n; return c }

// WithMessageReadTimeout returns a copy of c with MessageReadTimeout set.
func (c Config) WithMessageReadTimeout(d time.Duration) Config { c.MessageReadTimeout = d; return c }

// WithMaxInboundBytes returns a copy of c with MaxInboundBytes set.
func (c Config) WithMaxInboundBytes(n int64) Config { c.MaxInboundBytes = n; return c }

// WithUTF8Validation returns a copy of c with the UTF-8 checks of text
// messages on (the default) or off; see DisableUTF8Validation.
func (c Config) WithUTF8Validation(enabled bool) Config { c.DisableUTF8Validation = !enabled; return c }

// WithWriteLinger returns a copy of c with WriteLinger set.
func (c Config) WithWriteLinger(d time.Duration) Config { c.WriteLinger = d; return c }
