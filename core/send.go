package core

import "context"

// SendToClient queues a text message for the client with the given ID. A
// local client gets it directly (nothing is published). Otherwise, with an
// adapter the message is published for the node that has the client and nil
// is returned; without one ErrClientNotFound is returned.
func (h *Hub) SendToClient(clientID string, data []byte) error {
	return h.sendToClient(clientID, TextMessage, data)
}

// SendBinaryToClient is SendToClient for a binary message.
func (h *Hub) SendBinaryToClient(clientID string, data []byte) error {
	return h.sendToClient(clientID, BinaryMessage, data)
}

func (h *Hub) sendToClient(id string, typ MessageType, data []byte) error {
	if c, ok := h.clients.get(id); ok {
		return c.SendMessage(typ, data)
	}
	if err := h.checkText(typ, data); err != nil {
		return err
	}
	if h.adapter == nil {
		return ErrClientNotFound
	}
	h.publish(AdapterMessage{Type: AdapterClient, ClientID: id, MsgType: int(typ), Data: data})
	return nil
}

// SendToClientWithContext is SendToClient waiting for queue space instead of
// dropping (for a local client); it returns ctx's error if ctx ends first.
func (h *Hub) SendToClientWithContext(ctx context.Context, clientID string, data []byte) error {
	if c, ok := h.clients.get(clientID); ok {
		return c.SendMessageWithContext(ctx, TextMessage, data)
	}
	if err := h.checkText(TextMessage, data); err != nil {
		return err
	}
	if h.adapter == nil {
		return ErrClientNotFound
	}
	m := AdapterMessage{Type: AdapterClient, ClientID: clientID, MsgType: int(TextMessage), Data: data}
	h.tracePublish(ctx, &m)
	h.publish(m)
	return nil
}

// SendToUser queues a text message for every local client of userID and
// publishes it for the user's clients on other nodes.
func (h *Hub) SendToUser(userID string, data []byte) { h.sendToUser(userID, TextMessage, data) }

// SendBinaryToUser is SendToUser for a binary message.
func (h *Hub) SendBinaryToUser(userID string, data []byte) { h.sendToUser(userID, BinaryMessage, data) }

func (h *Hub) sendToUser(userID string, typ MessageType, data []byte) {
	f, err := h.frameFor(typ, data)
	if err != nil {
		h.refusedText("SendToUser")
		return
	}
	_ = h.deliverUser(context.Background(), false, userID, f)
	h.publish(AdapterMessage{Type: AdapterUser, UserID: userID, MsgType: int(typ), Data: data})
}

// deliverUser queues f for the local clients of userID, as deliverAll does.
func (h *Hub) deliverUser(ctx context.Context, wait bool, userID string, f *frame) error {
	return deliverTo(ctx, wait, h.users.get(userID), f, nil, nil)
}

// SendToUserWithContext is SendToUser waiting for queue space instead of
// dropping; it returns ctx's error if ctx ends first. The message is
// published to the other nodes either way.
func (h *Hub) SendToUserWithContext(ctx context.Context, userID string, data []byte) error {
	f, err := h.frameFor(TextMessage, data)
	if err != nil {
		return err
	}
	err = h.deliverUser(ctx, true, userID, f)
	m := AdapterMessage{Type: AdapterUser, UserID: userID, MsgType: int(TextMessage), Data: data}
	h.tracePublish(ctx, &m)
	h.publish(m)
	return err
}
