// Package api is the demo API of `make demo`: a resource server that
// accepts latch's access tokens with the rs middleware, offline, and
// lets the demo single-page app call it from another origin (CORS).
// cmd/demo-api runs it.
//
// Its routes show the three checks an API makes: GET /me for any signed-in
// user, GET /admin for administrators only, POST /notes for tokens that
// hold api:write. Its RFC 9728 metadata tells a client that knows nothing
// else where to get a token.
package api

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/latch-idp/latch/rs"
)

// Config says whose tokens the API accepts and who may call it from a
// browser.
type Config struct {
	// Issuer is latch's issuer URL.
	Issuer string
	// Resource is this API's resource identifier as registered with latch
	// (`latch serve --dev` registers http://localhost:8082): tokens must
	// name it in aud.
	Resource string
	// Origins may call the API from a browser (the SPA's origin).
	Origins []string
}

// Scopes are the scopes the API owns.
var Scopes = []string{"api:read", "api:write"}

// NewHandler discovers latch, fetches its keys and returns the API.
func NewHandler(ctx context.Context, cfg Config) (http.Handler, error) {
	v, err := rs.New(ctx, rs.Config{Issuer: cfg.Issuer, Audience: cfg.Resource, Name: "Demo API", Scopes: Scopes})
	if err != nil {
		return nil, err
	}
	n := &notes{}
	mux := http.NewServeMux()
	mux.Handle("GET "+v.MetadataPath(), v.MetadataHandler())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"routes": map[string]string{
				"GET /me": "any signed-in user", "GET /admin": "administrators", "POST /notes": "tokens with api:write",
			},
			"resource_metadata": v.MetadataURL(),
		})
	})
	mux.Handle("GET /me", v.RequireUser(http.HandlerFunc(me)))
	mux.Handle("GET /admin", v.RequireAdmin(http.HandlerFunc(n.stats)))
	mux.Handle("POST /notes", v.RequireUser(v.RequireScope("api:write")(http.HandlerFunc(n.add))))
	return cors(cfg.Origins, mux), nil
}

// me answers who the token is for, and every claim it carries.
func me(w http.ResponseWriter, r *http.Request) {
	c, _ := rs.ClaimsFrom(r.Context())
	writeJSON(w, http.StatusOK, map[string]any{
		"subject": c.Subject, "client_id": c.ClientID, "role": c.Role, "scopes": c.Scopes, "claims": c.Raw,
	})
}

// notes is the API's data: notes users wrote, kept in memory.
type notes struct {
	mu   sync.Mutex
	list []note
}

type note struct {
	ID     int    `json:"id"`
	Text   string `json:"text"`
	Author string `json:"author"`
}

func (n *notes) add(w http.ResponseWriter, r *http.Request) {
	c, _ := rs.ClaimsFrom(r.Context())
	var in struct {
		Text string `json:"text"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4<<10)).Decode(&in); err != nil || strings.TrimSpace(in.Text) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "send {\"text\": \"...\"}"})
		return
	}
	n.mu.Lock()
	nt := note{ID: len(n.list) + 1, Text: in.Text, Author: c.Subject}
	n.list = append(n.list, nt)
	n.mu.Unlock()
	writeJSON(w, http.StatusCreated, nt)
}

// stats is what only an administrator may see.
func (n *notes) stats(w http.ResponseWriter, r *http.Request) {
	c, _ := rs.ClaimsFrom(r.Context())
	n.mu.Lock()
	count := len(n.list)
	n.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"admin": c.Subject, "notes": count})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// cors lets origins call the API from a browser, with a bearer token in
// the Authorization header (never cookies: no credentials are allowed).
// The preflight is answered before any token check, as browsers send it
// without one; WWW-Authenticate is exposed so the app can read why a call
// was refused.
func cors(origins []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		w.Header().Add("Vary", "Origin")
		allowed := origin != "" && slices.Contains(origins, origin)
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Expose-Headers", "WWW-Authenticate")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if allowed {
				w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
				w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP")
				w.Header().Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
