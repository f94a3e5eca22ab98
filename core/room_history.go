package core

type roomHistory struct{}

func newRoomHistory(h *Hub, r *Room) *roomHistory { return &roomHistory{} }
