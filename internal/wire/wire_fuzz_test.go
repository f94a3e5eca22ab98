package wire

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/wshub/wshub/core"
)

var updateCorpus = flag.Bool("update-corpus", false, "rewrite the seed corpus in testdata/fuzz/FuzzDecode")

// FuzzDecode feeds arbitrary bytes to Decode. The seeds in
// testdata/fuzz/FuzzDecode are valid encodings plus a few broken ones (see
// seedCorpus); run `go test -fuzz FuzzDecode ./internal/wire` to explore.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte) {
		b := append([]byte(nil), in...) // Decode's input, clobbered below
		m, err := Decode(b)
		if err != nil {
			malformed, version := errors.Is(err, ErrMalformed), errors.Is(err, ErrVersion)
			if malformed == version {
				t.Fatalf("error must wrap exactly one of ErrMalformed, ErrVersion: %v", err)
			}
			if !reflect.DeepEqual(m, core.AdapterMessage{}) {
				t.Fatalf("failed Decode returned a non-zero message %+v", m)
			}
			return
		}
		enc := Append(nil, &m)
		if len(enc) != Size(&m) {
			t.Fatalf("Size %d, Append wrote %d", Size(&m), len(enc))
		}
		if len(enc) > len(b) {
			t.Fatalf("re-encoding grew from %d to %d bytes", len(b), len(enc))
		}
		m2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded message does not decode: %v", err)
		}
		for i := range b { // the decoded message must not alias its input
			b[i] ^= 0xff
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed the message:\n first %+v\nsecond %+v", m, m2)
		}
	})
}

// seedCorpus returns the fuzz seeds: every sample message that is small,
// a truncation and a version-3 copy of one, version-2 extensions, and hand-made malformed inputs.
func seedCorpus() map[string][]byte {
	seeds := map[string][]byte{}
	for name, m := range sampleMessages() {
		b := Append(nil, &m)
		if len(b) > 4096 {
			continue
		}
		seeds["valid-"+strings.ReplaceAll(name, " ", "-")] = b
	}
	room := Append(nil, &core.AdapterMessage{NodeID: "n", Type: core.AdapterRoom, Room: "r", MsgType: 1, Data: []byte("d")})
	seeds["truncated-room"] = room[:len(room)-1]
	seeds["version-3"] = append([]byte{3}, room[1:]...)
	seeds["version-2-unknown-extension"] = append(append([]byte{2}, room[1:]...), 9, 2, 'x', 'y')
	seeds["version-2-sequence-extra"] = append(append([]byte{2}, room[1:]...), extSequence, 12, 1, 2, 3, 4, 5, 6, 7, 8, 1, 5, 0xff, 0xff)
	seeds["trailing-byte"] = append(append([]byte(nil), room...), 0)
	seeds["too-many-except"] = []byte{1, codeBroadcastExcept, flagExcept, 0, 0x7f, 0, 0, 0, 0}
	seeds["empty"] = []byte{}
	return seeds
}

func corpusFile(b []byte) string {
	return "go test fuzz v1\n[]byte(" + strconv.Quote(string(b)) + ")\n"
}

// TestSeedCorpus keeps testdata/fuzz/FuzzDecode in step with seedCorpus, so
// a change of the format shows up as a failing test. Regenerate with
// `go test ./internal/wire -run TestSeedCorpus -update-corpus`.
func TestSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzDecode")
	seeds := seedCorpus()
	if *updateCorpus {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range seeds {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(corpusFile(b)), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, b := range seeds {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("seed %s: %v (run with -update-corpus)", name, err)
			continue
		}
		if string(got) != corpusFile(b) {
			t.Errorf("seed %s is stale (run with -update-corpus)", name)
		}
	}
}
