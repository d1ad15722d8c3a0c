// Package spa serves the demo single-page app of `make demo`: static
// files (HTML and one JavaScript module, no build step) and the app's
// settings as /config.json. The app does everything in the browser: code
// flow with PKCE (WebCrypto), refresh with rotation, calls to the demo API
// on another origin, and sign-out. cmd/demo-spa runs it.
//
// The server holds no tokens and no session; it only sets the headers that
// keep the app's tokens safe: a Content-Security-Policy that allows no
// inline script and connections only to latch and the API, and no
// Referer, as the callback's address carries the code.
package spa

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
)

//go:embed static
var static embed.FS

// Config is what the app needs to know; the browser reads it from
// /config.json.
type Config struct {
	// Issuer is latch's issuer URL.
	Issuer string `json:"issuer"`
	// ClientID is the app's client, public and first-party (`latch serve
	// --dev` registers demo-spa for http://localhost:8083).
	ClientID string `json:"client_id"`
	// API is the demo API's base URL.
	API string `json:"api"`
}

// NewHandler returns the app's file server.
func NewHandler(cfg Config) (http.Handler, error) {
	issuer, err := origin(cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("spa: issuer: %w", err)
	}
	api, err := origin(cfg.API)
	if err != nil {
		return nil, fmt.Errorf("spa: API: %w", err)
	}
	settings, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	files, err := fs.Sub(static, "static")
	if err != nil {
		return nil, err
	}
	csp := strings.Join([]string{
		"default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'",
		"connect-src 'self' " + issuer + " " + api, "form-action 'none'", "base-uri 'none'", "frame-ancestors 'none'",
	}, "; ")
	mux := http.NewServeMux()
	index := func(w http.ResponseWriter, r *http.Request) {
		// The callback is the app's own page: it finishes the sign-in.
		w.Header().Set("Cache-Control", "no-store")
		http.ServeFileFS(w, r, files, "index.html")
	}
	mux.HandleFunc("GET /{$}", index)
	mux.HandleFunc("GET /callback", index)
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(settings)
	})
	mux.Handle("GET /app.js", http.FileServerFS(files))
	mux.Handle("GET /style.css", http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		mux.ServeHTTP(w, r)
	}), nil
}

// origin is the scheme and host of an absolute URL, as CSP names sources.
func origin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("%q is not an absolute URL", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}
