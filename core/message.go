package core

import (
	"encoding/json"
	"time"

	"github.com/gorilla/websocket"
)

// MessageType is a WebSocket message type (RFC 6455 opcode).
type MessageType int

// WebSocket message types, equal to gorilla/websocket's constants.
const (
	TextMessage   MessageType = websocket.TextMessage
	BinaryMessage MessageType = websocket.BinaryMessage
	CloseMessage  MessageType = websocket.CloseMessage
	PingMessage   MessageType = websocket.PingMessage
	PongMessage   MessageType = websocket.PongMessage
)

// Message is one WebSocket message received from, or built for, a client.
type Message struct {
	// Type is TextMessage or BinaryMessage for data messages.
	Type MessageType
	// Data is the payload. A received message owns its Data: handlers may keep it.
	Data []byte
	// ClientID is the ID of the client that sent the message (empty for
	// messages built with the New* constructors).
	ClientID string
	// Time is when the hub finished reading the message.
	Time time.Time

	// client sent the message (see Context).
	client *Client
	// req is the request the message is, nil for other messages
	// (request.go).
	req *inboundRequest
}

// NewMessage returns a text message holding data.
func NewMessage(data []byte) *Message {
	return &Message{Type: TextMessage, Data: data, Time: time.Now()}
}

// NewTextMessage returns a text message holding text.
func NewTextMessage(text string) *Message {
	return &Message{Type: TextMessage, Data: []byte(text), Time: time.Now()}
}

// NewBinaryMessage returns a binary message holding data.
func NewBinaryMessage(data []byte) *Message {
	return &Message{Type: BinaryMessage, Data: data, Time: time.Now()}
}

// NewJSONMessage returns a text message holding the JSON encoding of v, or
// the marshalling error.
func NewJSONMessage(v any) (*Message, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return &Message{Type: TextMessage, Data: data, Time: time.Now()}, nil
}

// NewRawJSONMessage returns a text message holding data, which the caller
// guarantees is valid JSON. It skips marshalling, for payloads encoded once
// and sent many times.
func NewRawJSONMessage(data []byte) *Message {
	return &Message{Type: TextMessage, Data: data, Time: time.Now()}
}

// Text returns Data as a string.
func (m *Message) Text() string { return string(m.Data) }

// JSON decodes Data as JSON into v.
func (m *Message) JSON(v any) error { return json.Unmarshal(m.Data, v) }
