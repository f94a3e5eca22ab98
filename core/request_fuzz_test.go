package core

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzScanFrame: scanFrame reads a frame as encoding/json does (the "id"
// member's value, whether only id/result/error are present), never
// panics, and what it writes back (appendReply, appendErrorReply,
// appendCall) is valid JSON that it reads again as a reply.
func FuzzScanFrame(f *testing.F) {
	for _, s := range []string{
		`{"type":"add","id":1,"a":2}`, `{"id":7,"result":{"x":[1,"}"]}}`, `{"id":7,"error":{"code":"c","message":"m"}}`,
		`{"\u0069d":3}`, `{"id":1,"id":2}`, `{"id":1,"result":1,"error":2}`, `{"id":01}`, `{"id":1e2}`,
		`{"id":-1}`, `{"id":"1"}`, `{"id":null,"error":{}}`, `{"id":9007199254740992}`, `{"a":"\"id\"","b":{"id":1}}`,
		` {"id" :2 , "x":[{"id":3}] } `, `["id"]`, `{"id":1`, `"id"`, ``, `{"id":1,"result":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got := scanFrame(data)
		var members map[string]json.RawMessage
		if !json.Valid(data) || json.Unmarshal(data, &members) != nil || members == nil {
			if got.kind != frameOther {
				t.Fatalf("%q is no JSON object, read as kind %d", data, got.kind)
			}
			return
		}
		id, hasID := members["id"]
		if !hasID {
			if got.kind != frameOther {
				t.Fatalf("%q has no id, read as kind %d", data, got.kind)
			}
			return
		}
		n, ok := parseRequestID(id)
		if !ok {
			if got.kind != frameBadID {
				t.Fatalf("%q: bad id %s read as kind %d", data, id, got.kind)
			}
			return
		}
		if got.id != n {
			t.Fatalf("%q: id %d, want %d", data, got.id, n)
		}
		onlyReply := true
		for k := range members {
			if k != "id" && k != "result" && k != "error" {
				onlyReply = false
			}
		}
		_, hasResult := members["result"]
		_, hasErr := members["error"]
		wantReply := onlyReply && (hasResult || hasErr)
		if wantReply != (got.kind == frameReply) {
			t.Fatalf("%q: reply=%v, want %v", data, got.kind == frameReply, wantReply)
		}
		if wantReply {
			// The last of result and error in the text is the one kept.
			v := got.result
			if v == nil {
				v = got.err
			}
			if !json.Valid(v) {
				t.Fatalf("%q: member value %q is not JSON", data, v)
			}
			if hasResult && !hasErr && !bytes.Equal(compact(t, got.result), compact(t, members["result"])) {
				t.Fatalf("%q: result %s, want %s", data, got.result, members["result"])
			}
		}

		// What the hub writes for this id reads back.
		for _, frame := range [][]byte{
			appendReply(nil, n, got.result),
			appendErrorReply(nil, n, string(data), string(data)),
		} {
			back := scanFrame(frame)
			if back.kind != frameReply || back.id != n {
				t.Fatalf("wrote %q, read kind %d id %d", frame, back.kind, back.id)
			}
		}
		if call := appendCall(nil, n, string(data), id); !json.Valid(call) || scanFrame(call).kind != frameRequest {
			t.Fatalf("call frame %q", call)
		}
	})
}

func compact(t *testing.T, b []byte) []byte {
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
