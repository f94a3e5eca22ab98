package core

import (
	"errors"
	"net/url"
	"testing"
)

// FuzzParseCursor: any input parses to a cursor that formats back to
// itself, or fails with ErrBadCursor; never a panic.
func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"3f9a0c1d2e4b5a69:17", "e:1", ":1", "e:", "e:0", "e:+1", "e:-1", "e:18446744073709551616", "é:1", "a:b:c", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseCursor(s)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("error %v does not wrap ErrBadCursor", err)
			}
			return
		}
		if p.Offset == 0 || p.Epoch == "" || len(p.Epoch) > maxCursorEpoch {
			t.Fatalf("accepted %q as %+v", s, p)
		}
		q, err := ParseCursor(FormatCursor(p))
		if err != nil || q != p {
			t.Fatalf("round trip of %+v: %+v, %v", p, q, err)
		}
	})
}

// FuzzRecoveryFromQuery: any query string gives cursors within the bounds
// or ErrBadCursor; never a panic.
func FuzzRecoveryFromQuery(f *testing.F) {
	for _, s := range []string{"recover=e:1:room", "recover=e:1:a:b&recover=f:2:c", "recover=e:1:r&recover=e:2:r", "recover=::", "recover=e:1:", "x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		got, err := RecoveryFromQuery(q)
		if err != nil {
			if !errors.Is(err, ErrBadCursor) {
				t.Fatalf("error %v does not wrap ErrBadCursor", err)
			}
			return
		}
		if len(got) > MaxRecoverCursors {
			t.Fatalf("%d cursors", len(got))
		}
		for room, p := range got {
			if room == "" || p.Offset == 0 || p.Epoch == "" {
				t.Fatalf("accepted %q: %+v", room, p)
			}
		}
	})
}
