package wshubfx

import (
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wshub/wshub/core"
)

// recordingHooks returns a core.Hooks whose field i records name when
// called and returns zero values.
func recordingHooks(i int, name string, calls *[]string) core.Hooks {
	var h core.Hooks
	f := reflect.ValueOf(&h).Elem().Field(i)
	f.Set(reflect.MakeFunc(f.Type(), func([]reflect.Value) []reflect.Value {
		*calls = append(*calls, name)
		out := make([]reflect.Value, f.Type().NumOut())
		for j := range out {
			out[j] = reflect.Zero(f.Type().Out(j))
		}
		return out
	}))
	return h
}

// Every field of core.Hooks, present and future, is merged and called in
// order: a field added to core.Hooks without merging code fails here.
func TestMergeHooksCoversEveryField(t *testing.T) {
	typ := reflect.TypeFor[core.Hooks]()
	for i := range typ.NumField() {
		name := typ.Field(i).Name
		t.Run(name, func(t *testing.T) {
			var calls []string
			merged := mergeHooks(
				recordingHooks(i, "first", &calls),
				core.Hooks{},
				recordingHooks(i, "second", &calls),
				recordingHooks(i, "third", &calls),
			)
			fn := reflect.ValueOf(merged).Field(i)
			require.False(t, fn.IsNil(), "%s not merged", name)
			args := make([]reflect.Value, fn.Type().NumIn())
			for j := range args {
				args[j] = reflect.Zero(fn.Type().In(j))
			}
			fn.Call(args)
			assert.Equal(t, []string{"first", "second", "third"}, calls)

			// One set: its function is used as is; none: nil.
			only := recordingHooks(i, "only", &calls)
			assert.Equal(t, reflect.ValueOf(only).Field(i).Pointer(), reflect.ValueOf(mergeHooks(only, core.Hooks{})).Field(i).Pointer())
			assert.True(t, reflect.ValueOf(mergeHooks(core.Hooks{}, core.Hooks{})).Field(i).IsNil())
		})
	}
}

func TestMergedHooksStopAtFirstError(t *testing.T) {
	var calls []string
	errA := errors.New("refused by a")
	merged := mergeHooks(
		core.Hooks{
			BeforeConnect:  func(*http.Request) error { calls = append(calls, "a-connect"); return errA },
			BeforeRoomJoin: func(*core.Client, string) error { calls = append(calls, "a-join"); return errA },
		},
		core.Hooks{
			BeforeConnect:  func(*http.Request) error { calls = append(calls, "b-connect"); return nil },
			BeforeRoomJoin: func(*core.Client, string) error { calls = append(calls, "b-join"); return nil },
		},
	)
	require.ErrorIs(t, merged.BeforeConnect(nil), errA)
	require.ErrorIs(t, merged.BeforeRoomJoin(nil, "r"), errA)
	assert.Equal(t, []string{"a-connect", "a-join"}, calls)
}

func TestMergedBeforeMessageChainsReplacements(t *testing.T) {
	upper := func(_ *core.Client, m *core.Message) (*core.Message, error) {
		return core.NewTextMessage(m.Text() + "+a"), nil
	}
	keep := func(*core.Client, *core.Message) (*core.Message, error) { return nil, nil }
	errDrop := errors.New("dropped")
	drop := func(*core.Client, *core.Message) (*core.Message, error) { return nil, errDrop }

	tests := []struct {
		name    string
		give    []func(*core.Client, *core.Message) (*core.Message, error)
		want    string // "" means nil: keep the original
		wantErr error
	}{
		{name: "all keep", give: []func(*core.Client, *core.Message) (*core.Message, error){keep, keep}},
		{name: "replace then keep", give: []func(*core.Client, *core.Message) (*core.Message, error){upper, keep}, want: "x+a"},
		{name: "replace twice", give: []func(*core.Client, *core.Message) (*core.Message, error){upper, keep, upper}, want: "x+a+a"},
		{name: "error stops", give: []func(*core.Client, *core.Message) (*core.Message, error){upper, drop, upper}, wantErr: errDrop},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sets := make([]core.Hooks, len(tt.give))
			for i, fn := range tt.give {
				sets[i] = core.Hooks{BeforeMessage: fn}
			}
			got, err := mergeHooks(sets...).BeforeMessage(nil, core.NewTextMessage("x"))
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			if tt.want == "" {
				assert.Nil(t, got)
				return
			}
			assert.Equal(t, tt.want, got.Text())
		})
	}
}
