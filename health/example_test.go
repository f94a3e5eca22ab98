package health_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/wshub/wshub/core"
	"github.com/wshub/wshub/health"
)

func ExampleChecker_ReadyHandler() {
	hub := core.NewHub()
	go hub.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hub.WaitRunning(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer hub.Shutdown(ctx) //nolint:errcheck // example

	checker := health.New(hub, health.WithCheckFunc("db", func(context.Context) error {
		return fmt.Errorf("db: connection refused")
	}))
	mux := http.NewServeMux()
	mux.Handle("/healthz", checker.LiveHandler())
	mux.Handle("/readyz", checker.ReadyHandler())

	for _, path := range []string{"/healthz", "/readyz"} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Println(path, rec.Code)
	}
	report, ready := checker.Ready(ctx)
	fmt.Println(report.Status, ready, report.State, report.Checks["db"].Error)
	// Output:
	// /healthz 200
	// /readyz 503
	// unavailable false running db: connection refused
}

// A hub whose broker link is down: by default readiness reports the
// adapter check failing and stays 200 ("degraded"), since the node still
// serves its own clients; WithAdapterRequired makes it 503.
func ExampleWithAdapterRequired() {
	adapter := &fakeAdapter{down: errors.New("nats: no servers available")}
	hub := core.NewHub(core.WithAdapter(adapter))
	go hub.Run()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hub.WaitRunning(ctx); err != nil {
		fmt.Println(err)
		return
	}
	defer hub.Shutdown(ctx) //nolint:errcheck // example

	for _, checker := range []*health.Checker{
		health.New(hub),
		health.New(hub, health.WithAdapterRequired()),
	} {
		rec := httptest.NewRecorder()
		checker.ReadyHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		report, _ := checker.Ready(ctx)
		a := report.Checks[health.AdapterCheckName]
		fmt.Println(rec.Code, report.Status, "adapter ok:", a.OK, "report only:", a.ReportOnly, "error:", a.Error)
	}
	// Output:
	// 200 degraded adapter ok: false report only: true error: nats: no servers available
	// 503 unavailable adapter ok: false report only: false error: nats: no servers available
}
