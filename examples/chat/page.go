package main

import (
	"embed"
	"net/http"
)

// static holds the chat page (one HTML file with its CSS and script
// inline) and wshub.js, the client package (clients/js) that the page
// imports: its minified build, copied here by npm run build there and
// checked by its npm test.
//
//go:embed static/index.html static/wshub.js
var static embed.FS

// pageHandler serves the chat page at "/", the client package at
// "/wshub.js", and 404 for every other path it is asked for.
func pageHandler() http.Handler {
	page := mustRead("static/index.html")
	script := mustRead("static/wshub.js")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		h := w.Header()
		switch r.URL.Path {
		case "/":
			body = page
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; script-src 'self' 'unsafe-inline'; connect-src 'self'")
		case "/wshub.js":
			body = script
			h.Set("Content-Type", "text/javascript; charset=utf-8")
		default:
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}

func mustRead(name string) []byte {
	b, err := static.ReadFile(name)
	if err != nil {
		panic("chat: " + name + " not embedded: " + err.Error()) // a build mistake, not a runtime condition
	}
	return b
}
