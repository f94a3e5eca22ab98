package health_test

import (
	"context"
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
