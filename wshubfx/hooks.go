package wshubfx

import (
	"net/http"

	"github.com/wshub/wshub/core"
)

// mergeHooks combines hook sets into one core.Hooks, calling each set's
// hook in the given order. A field no set fills stays nil (so the hub does
// no work for it); a field exactly one set fills is that set's function.
//
// Combining rules: hooks that return an error (BeforeConnect,
// BeforeRoomJoin, BeforeMessage) stop at the first error and return it;
// BeforeMessage hands each hook the message the previous one returned (a
// nil replacement keeps the current message); all other hooks are called
// one after the other.
func mergeHooks(sets ...core.Hooks) core.Hooks {
	var (
		beforeConnect    []func(*http.Request) error
		afterConnect     []func(*core.Client)
		beforeDisconnect []func(*core.Client)
		afterDisconnect  []func(*core.Client)
		beforeMessage    []func(*core.Client, *core.Message) (*core.Message, error)
		afterMessage     []func(*core.Client, *core.Message, error)
		onError          []func(*core.Client, error)
		onSendDropped    []func(*core.Client, []byte)
		onSlowClient     []func(*core.Client)
		beforeRoomJoin   []func(*core.Client, string) error
		afterRoomJoin    []func(*core.Client, string)
		beforeRoomLeave  []func(*core.Client, string)
		afterRoomLeave   []func(*core.Client, string)
		onRecovery       []func(*core.Client, string, core.Recovery)
		onPresenceJoin   []func(core.PresenceEvent)
		onPresenceLeave  []func(core.PresenceEvent)
	)
	for _, s := range sets {
		if s.BeforeConnect != nil {
			beforeConnect = append(beforeConnect, s.BeforeConnect)
		}
		if s.AfterConnect != nil {
			afterConnect = append(afterConnect, s.AfterConnect)
		}
		if s.BeforeDisconnect != nil {
			beforeDisconnect = append(beforeDisconnect, s.BeforeDisconnect)
		}
		if s.AfterDisconnect != nil {
			afterDisconnect = append(afterDisconnect, s.AfterDisconnect)
		}
		if s.BeforeMessage != nil {
			beforeMessage = append(beforeMessage, s.BeforeMessage)
		}
		if s.AfterMessage != nil {
			afterMessage = append(afterMessage, s.AfterMessage)
		}
		if s.OnError != nil {
			onError = append(onError, s.OnError)
		}
		if s.OnSendDropped != nil {
			onSendDropped = append(onSendDropped, s.OnSendDropped)
		}
		if s.OnSlowClient != nil {
			onSlowClient = append(onSlowClient, s.OnSlowClient)
		}
		if s.BeforeRoomJoin != nil {
			beforeRoomJoin = append(beforeRoomJoin, s.BeforeRoomJoin)
		}
		if s.AfterRoomJoin != nil {
			afterRoomJoin = append(afterRoomJoin, s.AfterRoomJoin)
		}
		if s.BeforeRoomLeave != nil {
			beforeRoomLeave = append(beforeRoomLeave, s.BeforeRoomLeave)
		}
		if s.AfterRoomLeave != nil {
			afterRoomLeave = append(afterRoomLeave, s.AfterRoomLeave)
		}
		if s.OnRecovery != nil {
			onRecovery = append(onRecovery, s.OnRecovery)
		}
		if s.OnPresenceJoin != nil {
			onPresenceJoin = append(onPresenceJoin, s.OnPresenceJoin)
		}
		if s.OnPresenceLeave != nil {
			onPresenceLeave = append(onPresenceLeave, s.OnPresenceLeave)
		}
	}
	return core.Hooks{
		BeforeConnect:    combineErr1(beforeConnect),
		AfterConnect:     combine1(afterConnect),
		BeforeDisconnect: combine1(beforeDisconnect),
		AfterDisconnect:  combine1(afterDisconnect),
		BeforeMessage:    combineBeforeMessage(beforeMessage),
		AfterMessage:     combine3(afterMessage),
		OnError:          combine2(onError),
		OnSendDropped:    combine2(onSendDropped),
		OnSlowClient:     combine1(onSlowClient),
		BeforeRoomJoin:   combineErr2(beforeRoomJoin),
		AfterRoomJoin:    combine2(afterRoomJoin),
		BeforeRoomLeave:  combine2(beforeRoomLeave),
		AfterRoomLeave:   combine2(afterRoomLeave),
		OnRecovery:       combine3(onRecovery),
		OnPresenceJoin:   combine1(onPresenceJoin),
		OnPresenceLeave:  combine1(onPresenceLeave),
	}
}

func combine1[A any](fns []func(A)) func(A) {
	switch len(fns) {
	case 0:
		return nil
	case 1:
		return fns[0]
	}
	return func(a A) {
		for _, fn := range fns {
			fn(a)
		}
	}
}

func combine2[A, B any](fns []func(A, B)) func(A, B) {
	switch len(fns) {
	case 0:
		return nil
	case 1:
		return fns[0]
	}
	return func(a A, b B) {
		for _, fn := range fns {
			fn(a, b)
		}
	}
}

func combine3[A, B, C any](fns []func(A, B, C)) func(A, B, C) {
	switch len(fns) {
	case 0:
		return nil
	case 1:
		return fns[0]
	}
	return func(a A, b B, c C) {
		for _, fn := range fns {
			fn(a, b, c)
		}
	}
}

func combineErr1[A any](fns []func(A) error) func(A) error {
	switch len(fns) {
	case 0:
		return nil
	case 1:
		return fns[0]
	}
	return func(a A) error {
		for _, fn := range fns {
			if err := fn(a); err != nil {
				return err
			}
		}
		return nil
	}
}

func combineErr2[A, B any](fns []func(A, B) error) func(A, B) error {
	switch len(fns) {
	case 0:
		return nil
	case 1:
		return fns[0]
	}
	return func(a A, b B) error {
		for _, fn := range fns {
			if err := fn(a, b); err != nil {
				return err
			}
		}
		return nil
	}
}

func combineBeforeMessage(fns []func(*core.Client, *core.Message) (*core.Message, error)) func(*core.Client, *core.Message) (*core.Message, error) {
	switch len(fns) {
	case 0:
		return nil
	case 1:
		return fns[0]
	}
	return func(c *core.Client, msg *core.Message) (*core.Message, error) {
		cur, replaced := msg, false
		for _, fn := range fns {
			next, err := fn(c, cur)
			if err != nil {
				return next, err
			}
			if next != nil {
				cur, replaced = next, true
			}
		}
		if !replaced {
			return nil, nil
		}
		return cur, nil
	}
}
