package main

import (
	"embed"
	"net/http"

	"github.com/wshub/wshub/clients/js"
)

// static holds the chat page: one HTML file with its CSS and script
// inline. The script imports the client package from /wshub.js, which
// package clients/js serves.
//
//go:embed static/index.html
var static embed.FS

// pageHandler serves the chat page at "/", the client package (clients/js)
// at "/wshub.js", and 404 for every other path it is asked for.
func pageHandler() http.Handler {
	page := mustRead("static/index.html")
	script := js.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
		case "/wshub.js":
			script.ServeHTTP(w, r)
			return
		default:
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; script-src 'self' 'unsafe-inline'; connect-src 'self'")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(page)
	})
}

func mustRead(name string) []byte {
	b, err := static.ReadFile(name)
	if err != nil {
		panic("chat: " + name + " not embedded: " + err.Error()) // a build mistake, not a runtime condition
	}
	return b
}
