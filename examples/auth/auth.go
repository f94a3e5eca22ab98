package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wshub/wshub/core"
)

// CloseTokenExpired is the WebSocket close code sent when a connection's
// token expires. It lies in the 4000-4999 range that RFC 6455 leaves to
// applications, so a client can tell "get a fresh token and reconnect"
// apart from 1008 (policy violation), which says nothing about retrying.
const CloseTokenExpired = 4001

// maxTokenTTL caps the lifetime a /token caller may ask for.
const maxTokenTTL = time.Hour

// authServer issues demo tokens and admits WebSocket clients that present a
// valid one.
type authServer struct {
	hub    *core.Hub
	secret []byte
	ttl    time.Duration // default lifetime of issued tokens
	parser *jwt.Parser
}

// newAuthServer builds the server and its hub, configured by opts and
// handling messages with handle. Run the hub before serving.
func newAuthServer(secret []byte, ttl time.Duration, opts ...core.Option) *authServer {
	s := &authServer{
		secret: secret,
		ttl:    ttl,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithExpirationRequired(),
		),
	}
	s.hub = core.NewHub(append(opts[:len(opts):len(opts)], core.WithMessageHandler(s.handle))...)
	return s
}

// routes returns the server's HTTP handler: /token, /ws and the probes.
func (s *authServer) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/token", s.issue)
	mux.HandleFunc("/ws", s.upgrade)
	mux.Handle("/healthz", s.hub.HealthHandler())
	mux.Handle("/readyz", s.hub.ReadyHandler())
	return mux
}

// issue answers GET /token?user=NAME[&ttl=30s] with a signed token. Anyone
// may ask: it stands in for a real login, which this demo does not have.
func (s *authServer) issue(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("user")
	if user == "" {
		http.Error(w, "add ?user=NAME", http.StatusBadRequest)
		return
	}
	ttl := s.ttl
	if v := r.URL.Query().Get("ttl"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > maxTokenTTL {
			http.Error(w, "ttl must be a duration between 0 and "+maxTokenTTL.String(), http.StatusBadRequest)
			return
		}
		ttl = d
	}
	token, exp, err := s.sign(user, ttl)
	if err != nil {
		http.Error(w, "cannot sign token", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"token": token, "expires_at": exp.UTC().Format(time.RFC3339)})
}

// sign returns an HS256 token for user that expires after ttl. JWT times
// have whole-second precision, so the expiry is rounded down to a second.
func (s *authServer) sign(user string, ttl time.Duration) (string, time.Time, error) {
	now := time.Now()
	claims := jwt.RegisteredClaims{
		Subject:   user,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.secret)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign: %w", err)
	}
	return token, claims.ExpiresAt.Time, nil
}

// verify checks the token and returns its subject and expiry.
func (s *authServer) verify(raw string) (string, time.Time, error) {
	var claims jwt.RegisteredClaims
	_, err := s.parser.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return s.secret, nil })
	if err != nil {
		return "", time.Time{}, err
	}
	if claims.Subject == "" {
		return "", time.Time{}, errors.New("token has no subject")
	}
	return claims.Subject, claims.ExpiresAt.Time, nil
}

// bearer returns the token from "Authorization: Bearer ..." or, because
// browsers cannot set headers on a WebSocket, from ?token=.
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if t, ok := strings.CutPrefix(h, "Bearer "); ok {
			return strings.TrimSpace(t)
		}
	}
	return r.URL.Query().Get("token")
}

// upgrade checks the token before upgrading: a missing or invalid one gets
// 401 and no WebSocket. An admitted connection is bound to the token's
// subject and closed with CloseTokenExpired when the token expires.
func (s *authServer) upgrade(w http.ResponseWriter, r *http.Request) {
	raw := bearer(r)
	if raw == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="wshub"`)
		http.Error(w, "missing token", http.StatusUnauthorized)
		return
	}
	user, exp, err := s.verify(raw)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="wshub", error="invalid_token"`)
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	client, err := s.hub.UpgradeConnection(w, r, core.WithUserID(user))
	if err != nil {
		return // UpgradeConnection answered the request (503, 429, 403, ...)
	}
	expire := time.AfterFunc(time.Until(exp), func() {
		_ = client.CloseWithCode(CloseTokenExpired, "token expired")
	})
	client.OnClose(func(*core.Client) { expire.Stop() }) // runs at once if already closed
}

// handle broadcasts what a client says, prefixed with its user ID, to every
// client.
func (s *authServer) handle(c *core.Client, m *core.Message) error {
	s.hub.Broadcast([]byte(c.GetUserID() + ": " + string(m.Data)))
	return nil
}
