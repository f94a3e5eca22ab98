package main

import (
	"embed"
	"net/http"
)

// static holds the chat page: one HTML file with its CSS and JavaScript
// inline, no build step.
//
//go:embed static/index.html
var static embed.FS

// pageHandler serves the chat page at "/" and 404 for every other path it
// is asked for.
func pageHandler() http.Handler {
	page, err := static.ReadFile("static/index.html")
	if err != nil {
		panic("chat: page not embedded: " + err.Error()) // a build mistake, not a runtime condition
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(page)
	})
}
