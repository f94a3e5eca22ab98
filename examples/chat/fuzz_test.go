package main

import (
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzClientFrame feeds a client's frame through what the chat reads from
// it: the JSON event, then each field's checks. Whatever the bytes, nothing
// panics, and what the checks accept is what the page and the member store
// may safely hold: trimmed, valid UTF-8, without control characters,
// within its length, and a session digest of 32 hex characters.
func FuzzClientFrame(f *testing.F) {
	for _, seed := range []string{
		`{"type":"join","room":"lobby","nick":"ann","session":"abc-DEF_123"}`,
		`{"type":"say","text":"hi"}`,
		`{"type":"leave"}`,
		`{"type":"join","nick":" \u0000ann ","room":"\u202e"}`,
		`{"type":"join","nick":"` + strings.Repeat("é", 30) + `"}`,
		`not json`, `[1,2]`, `"x"`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var in event
		if json.Unmarshal(data, &in) != nil {
			return
		}
		for _, field := range []struct {
			s     string
			limit int
		}{{in.Nick, maxNickLen}, {in.Room, maxRoomLen}, {in.Text, maxTextLen}} {
			got, err := clean(field.s, "field", field.limit)
			if err != nil {
				continue
			}
			if got == "" || got != strings.TrimSpace(got) || !utf8.ValidString(got) ||
				utf8.RuneCountInString(got) > field.limit || strings.IndexFunc(got, unicode.IsControl) >= 0 {
				t.Fatalf("clean(%q) accepted %q", field.s, got)
			}
		}
		d, err := sessionDigest(in.Session)
		switch {
		case err != nil:
		case in.Session == "":
			if d != "" {
				t.Fatalf("no session gave digest %q", d)
			}
		default:
			if b, herr := hex.DecodeString(d); herr != nil || len(b) != 16 {
				t.Fatalf("session %q gave digest %q", in.Session, d)
			}
		}
	})
}
