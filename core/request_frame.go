package core

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// The frames of requests and replies (docs/protocol.md, "Requests and
// replies"). A request is a JSON object with an "id" member; a reply is an
// object whose only members are "id" and one of "result" or "error". This
// file reads them from untrusted bytes (fuzzed) and writes them.

// MaxRequestID is the largest request ID: 2^53-1, the largest integer a
// JavaScript number holds exactly.
const MaxRequestID = 1<<53 - 1

// frameKind is what scanFrame found in a text message.
type frameKind uint8

const (
	frameOther   frameKind = iota // not a request or a reply: an ordinary message
	frameRequest                  // an object with a valid "id" (and not a reply)
	frameReply                    // only "id" and one of "result" / "error"
	frameBadID                    // an object with an "id" that is not a valid request ID
)

// scannedFrame is what scanFrame read.
type scannedFrame struct {
	kind frameKind
	id   uint64
	// For a reply: result or error, as raw JSON, the other nil.
	result, err []byte
}

// idToken is the quick test that lets most messages skip the scan: a
// request has the key "id", which appears as these bytes unless escaped.
var idToken = []byte(`"id"`)

// mayHaveID reports whether data can be an object with an "id" member; false
// is certain, true needs scanFrame.
func mayHaveID(data []byte) bool {
	return bytes.Contains(data, idToken) || bytes.Contains(data, []byte(`\u`))
}

// scanFrame classifies a text message. It never panics, on any input.
func scanFrame(data []byte) scannedFrame {
	var f scannedFrame
	if !mayHaveID(data) {
		return f
	}
	data = bytes.TrimLeft(data, " \t\r\n")
	if len(data) == 0 || data[0] != '{' || !json.Valid(data) {
		return f
	}
	var id []byte
	hasID, others := false, false
	forEachMember(data, func(key, value []byte) {
		switch string(key) {
		case "id":
			hasID, id = true, value
		case "result":
			f.result, f.err = value, nil
		case "error":
			f.err, f.result = value, nil
		default:
			others = true
		}
	})
	// A member given twice counts as its last copy, as encoding/json reads
	// it; result and error are exclusive, so the last of them wins too.
	if !hasID {
		return scannedFrame{}
	}
	n, ok := parseRequestID(id)
	if !ok {
		return scannedFrame{kind: frameBadID}
	}
	f.id = n
	if !others && (f.result != nil || f.err != nil) {
		f.kind = frameReply
		return f
	}
	return scannedFrame{kind: frameRequest, id: n}
}

// parseRequestID reads a request ID: a JSON integer from 1 to MaxRequestID,
// written without fraction, exponent or sign.
func parseRequestID(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 16 || b[0] < '1' || b[0] > '9' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil || n > MaxRequestID {
		return 0, false
	}
	return n, true
}

// forEachMember calls fn with each member of the JSON object data, in order:
// the key unescaped and the value's raw bytes. data must be valid JSON
// (json.Valid) starting with '{'.
func forEachMember(data []byte, fn func(key, value []byte)) {
	i := 1
	for {
		i = skipSpace(data, i)
		if i >= len(data) || data[i] == '}' {
			return
		}
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
		end := skipString(data, i)
		key := data[i+1 : end-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			var s string
			if json.Unmarshal(data[i:end], &s) != nil {
				return // cannot happen on valid JSON
			}
			key = []byte(s)
		}
		i = skipSpace(data, end)
		i = skipSpace(data, i+1) // the ':'
		vend := skipValue(data, i)
		fn(key, data[i:vend])
		i = vend
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\r', '\n':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index after the string that starts at data[i] ('"').
func skipString(data []byte, i int) int {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(data)
}

// skipValue returns the index after the JSON value that starts at data[i].
func skipValue(data []byte, i int) int {
	if i >= len(data) {
		return i
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				j = skipString(data, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(data)
	default: // a number, true, false or null
		j := i
		for j < len(data) {
			switch data[j] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return j
			}
			j++
		}
		return j
	}
}

// Reply error codes the hub itself sends. Applications choose their own
// codes for the errors of their handlers (ReplyError).
const (
	// CodeBadRequest: the frame is an object with an "id" that is not an
	// integer from 1 to MaxRequestID, or a reply that is not well formed.
	CodeBadRequest = "bad_request"
	// CodeInvalidMessage: the handler refused the message with
	// ErrInvalidMessage (no handler for its event, by default).
	CodeInvalidMessage = "invalid_message"
	// CodeInternal: the handler failed with an error that is not a
	// ReplyError; its text stays in the server's logs.
	CodeInternal = "internal"
	// CodeDuplicateID: a request reused the ID of one still waiting for
	// its reply.
	CodeDuplicateID = "duplicate_id"
	// CodeTooManyRequests: more than MaxDeferredReplies requests wait for
	// a reply on the connection.
	CodeTooManyRequests = "too_many_requests"
	// CodeRateLimited: the hub's inbound rate limit dropped the request.
	CodeRateLimited = "rate_limited"
	// CodeUnknownReply: a reply whose ID no request of the server waits
	// for (it timed out, or was never sent).
	CodeUnknownReply = "unknown_reply"
)

// replyErrorBody is the "error" member of a reply.
type replyErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// appendReply appends the reply frame {"id":id,"result":result}; a nil
// result is null. id 0 writes "id":null.
func appendReply(b []byte, id uint64, result []byte) []byte {
	b = appendID(b, id)
	b = append(b, `,"result":`...)
	if result == nil {
		result = []byte("null")
	}
	b = append(b, result...)
	return append(b, '}')
}

// appendErrorReply appends {"id":id,"error":{"code":code,"message":msg}}.
func appendErrorReply(b []byte, id uint64, code, msg string) []byte {
	body, _ := json.Marshal(replyErrorBody{Code: code, Message: msg}) // two strings: cannot fail
	b = appendID(b, id)
	b = append(b, `,"error":`...)
	b = append(b, body...)
	return append(b, '}')
}

func appendID(b []byte, id uint64) []byte {
	b = append(b, `{"id":`...)
	if id == 0 {
		return append(b, "null"...)
	}
	return strconv.AppendUint(b, id, 10)
}

// appendCall appends the server's request {"id":id,"event":event,"data":data}.
func appendCall(b []byte, id uint64, event string, data []byte) []byte {
	ev, _ := json.Marshal(event) // a string: cannot fail
	b = appendID(b, id)
	b = append(b, `,"event":`...)
	b = append(b, ev...)
	b = append(b, `,"data":`...)
	if data == nil {
		data = []byte("null")
	}
	b = append(b, data...)
	return append(b, '}')
}
