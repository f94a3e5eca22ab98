package core

import (
	"context"
	"errors"
	"time"
)

// The inbound relay: what other nodes publish reaches this node's clients
// here, after the adapter's subscription decoded it.

// onAdapterMessage delivers a message from another node to local clients.
// It recovers its own panics, so no adapter has to.
func (h *Hub) onAdapterMessage(m AdapterMessage) {
	defer func() {
		if p := recover(); p != nil {
			h.panicked("adapter message", p)
		}
	}()
	own := m.NodeID == h.nodeID
	if !own && h.adapterMetrics != nil {
		h.adapterMetrics.IncrementAdapterReceived(1)
	}
	if m.Type == AdapterPresence {
		if !own && m.Seq.numbered() {
			h.countSeq(h.origins.follow(m.NodeID, true, m.Seq, time.Now()))
		}
		if len(m.Data) > 0 && m.Data[0] == clusterVersion {
			if !own {
				h.receiveCluster(m.NodeID, m.Data)
			}
			return
		}
		if h.pres != nil {
			h.pres.receive(m)
		}
		return
	}
	if own {
		return
	}
	switch m.Type {
	case AdapterBroadcast, AdapterBroadcastExcept, AdapterRoom, AdapterRoomExcept, AdapterUser, AdapterClient:
	default:
		h.adapterError(&AdapterError{Op: "decode", Err: errUnknownType})
		return
	}
	if len(m.Trace) != 0 && h.tracer != nil {
		defer h.tracer.Deliver(&m)() // the delivery span of a traced message
	}
	typ := MessageType(m.MsgType)
	// Follow the sender's stream before anything can refuse the message:
	// a message that arrived is not lost, whatever happens to it here.
	var room *Room
	switch m.Type {
	case AdapterRoom, AdapterRoomExcept:
		// A room that does not exist here is not followed: this node
		// receives its stream only while it has members in it.
		if room = h.room(m.Room); room != nil && m.Seq.numbered() {
			h.countSeq(room.seqs.follow(m.NodeID, m.Seq))
		}
		if room != nil && room.hist != nil && m.Pos.Offset != 0 {
			if typ != TextMessage && typ != BinaryMessage {
				h.adapterError(&AdapterError{Op: "decode", Err: errBadMsgType})
				return
			}
			// A history room's message: delivered in position order.
			room.hist.offer(m)
			return
		}
	default:
		if m.Seq.numbered() {
			h.countSeq(h.origins.follow(m.NodeID, false, m.Seq, time.Now()))
		}
	}
	if typ != TextMessage && typ != BinaryMessage {
		h.adapterError(&AdapterError{Op: "decode", Err: errBadMsgType})
		return
	}
	f, err := h.frameFor(typ, m.Data)
	if err != nil {
		h.adapterError(&AdapterError{Op: "decode", Err: err})
		return
	}
	switch m.Type {
	case AdapterBroadcast, AdapterBroadcastExcept:
		_ = h.deliverAll(context.Background(), false, f, nil, m.ExceptClientIDs)
	case AdapterRoom, AdapterRoomExcept:
		if room != nil {
			_ = h.deliverInRoom(context.Background(), false, room, f, nil, m.ExceptClientIDs)
		}
	case AdapterUser:
		_ = h.deliverUser(context.Background(), false, m.UserID, f)
	case AdapterClient:
		if c, ok := h.clients.get(m.ClientID); ok {
			_ = c.enqueue(f)
		}
	}
}

var (
	errBadMsgType  = errors.New("wshub: bus message has an invalid WebSocket message type")
	errUnknownType = errors.New("wshub: bus message has an unknown operation type")
)
