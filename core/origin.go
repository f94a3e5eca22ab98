package core

import (
	"net/http"
	"net/url"
	"strings"
)

// AllowAllOrigins accepts every Origin. Use it only for non-browser clients
// or when another layer authenticates requests.
func AllowAllOrigins(*http.Request) bool { return true }

// AllowSameOrigin accepts an upgrade when its Origin header names the same
// host and port as its Host header (compared case-insensitively). A request
// without an Origin header is accepted: browsers always send one, other
// clients (apps, CLIs) often do not. It is the default CheckOrigin.
func AllowSameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// AllowOrigins returns a CheckOrigin that accepts requests without an Origin
// header and requests whose Origin equals one of origins (scheme, host and
// port, compared case-insensitively, e.g. "https://app.example.com").
func AllowOrigins(origins ...string) func(r *http.Request) bool {
	allowed := make(map[string]struct{}, len(origins))
	for _, o := range origins {
		allowed[strings.ToLower(strings.TrimRight(o, "/"))] = struct{}{}
	}
	return func(r *http.Request) bool {
		origin := r.Header.Get("Origin")
		if origin == "" {
			return true
		}
		_, ok := allowed[strings.ToLower(origin)]
		return ok
	}
}
