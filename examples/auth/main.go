// Command auth admits WebSocket clients with a JWT (HS256) checked before
// the upgrade, binds each connection to the token's user, and closes it
// with code 4001 (CloseTokenExpired) when the token expires.
//
//	cd examples && WSHUB_JWT_SECRET=change-me go run ./auth -addr :8080
//	curl 'localhost:8080/token?user=ann&ttl=30s'
//	websocat 'ws://localhost:8080/ws?token=...'   # or Authorization: Bearer ...
//
// Without -secret or WSHUB_JWT_SECRET it makes up a random secret, so
// tokens die with the process.
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	secret := flag.String("secret", os.Getenv("WSHUB_JWT_SECRET"), "HS256 secret (default $WSHUB_JWT_SECRET, else random)")
	ttl := flag.Duration("ttl", time.Minute, "lifetime of tokens from /token without ?ttl=")
	flag.Usage = func() {
		_, _ = fmt.Fprint(flag.CommandLine.Output(), "auth: WebSocket clients admitted with a JWT (HS256) checked before the upgrade, closed with 4001 when it expires.\n\n"+
			"Get a token at http://localhost:8080/token?user=ann&ttl=30s, then connect to ws://localhost:8080/ws?token=<token> and send e.g. hello.\n\n"+
			"Usage: auth [flags]\n")
		flag.PrintDefaults()
	}
	flag.Parse()

	key := []byte(*secret)
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // never fails on supported platforms
		log.Print("no secret given: using a random one, tokens die with the process")
	}
	if err := run(*addr, key, *ttl); err != nil {
		log.Fatal(err)
	}
}

func run(addr string, secret []byte, ttl time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	s := newAuthServer(secret, ttl)
	hub := s.hub
	go hub.Run() // returns after Shutdown
	if err := hub.WaitRunning(ctx); err != nil {
		_ = hub.Shutdown(context.Background())
		return err
	}

	srv := &http.Server{Addr: addr, Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	// One value: the result of ListenAndServe.
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ListenAndServe() }()
	log.Printf("auth demo on %s: GET /token?user=NAME, then /ws?token=TOKEN", addr)

	var err error
	select {
	case <-ctx.Done():
		stop()
	case err = <-serveErr:
	}
	drainCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	if derr := hub.Drain(drainCtx); derr != nil {
		log.Printf("drain: %v", derr)
	}
	cancel()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hub.Shutdown(shutCtx)
	_ = srv.Shutdown(shutCtx)
	if err == nil {
		err = <-serveErr
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
