package wshubtest

import (
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/wshub/wshub/core"
)

// BenchRecoveryStampede measures a deploy's reconnect storm: clients
// members of one history room disconnect, missed messages are published,
// and all of them reconnect at once to another node with their cursor.
// One iteration is the time until every client has read its recovery
// answer (after the missed messages). It reports "catchup-ms" per storm and
// fails if a client was not recovered. newAdapter returns a fresh adapter
// with history on the bus under test.
func BenchRecoveryStampede(b *testing.B, clients, missed int, newAdapter func(tb testing.TB) core.Adapter) {
	pub := HistoryNode(b, "storm-pub", newAdapter(b), nil)
	target := HistoryNode(b, "storm-target", newAdapter(b), nil)
	base := "ws" + strings.TrimPrefix(target.Server.URL, "http") + "/?"
	var total time.Duration
	for i := 0; i < b.N; i++ {
		room := "hist-" + core.NewEpoch()
		if err := pub.Hub.BroadcastToRoom(room, []byte("first")); err != nil {
			b.Fatal(err)
		}
		// The cursor every client last saw: the room's first message.
		var page core.HistoryPage
		deadline := time.Now().Add(waitTimeout)
		for page.Top == 0 && time.Now().Before(deadline) {
			page, _ = pub.Hub.History(b.Context(), room, core.HistoryQuery{})
			time.Sleep(time.Millisecond) // polls the store until the deadline
		}
		if page.Top == 0 {
			b.Fatal("the first message was never stored")
		}
		for j := range missed {
			_ = pub.Hub.BroadcastToRoom(room, []byte(`{"n":`+strconv.Itoa(j)+`}`))
		}
		for page.Top < uint64(missed+1) && time.Now().Before(deadline) {
			page, _ = pub.Hub.History(b.Context(), room, core.HistoryQuery{Limit: 1, Reverse: true})
			time.Sleep(time.Millisecond) // polls the store until the deadline
		}
		if page.Top < uint64(missed+1) {
			b.Fatalf("stored %d of %d", page.Top, missed+1)
		}
		q := url.Values{"join": {room}, core.RecoverParam: {page.Epoch + ":1:" + room}}
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan string, clients)
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				conn, resp, err := websocket.DefaultDialer.Dial(base+q.Encode(), nil)
				if err != nil {
					errs <- err.Error()
					return
				}
				_ = resp.Body.Close()
				defer func() { _ = conn.Close() }()
				_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
				got := 0
				for {
					_, data, err := conn.ReadMessage()
					if err != nil {
						errs <- err.Error()
						return
					}
					e, ok := ParseEnvelope(string(data))
					if !ok {
						continue
					}
					if e.Recovery != nil {
						if !e.Recovery.Recovered || got != missed {
							errs <- "recovered " + strconv.FormatBool(e.Recovery.Recovered) + " (" + e.Recovery.Reason + ") after " + strconv.Itoa(got) + " messages"
						}
						return
					}
					got++
				}
			}()
		}
		wg.Wait()
		total += time.Since(start)
		close(errs)
		for e := range errs {
			b.Fatal(e)
		}
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "catchup-ms")
}
