package provider

import (
	"net/http"
	"slices"
)

// newCORS lets the configured origins call an endpoint from a browser. No
// credentials are allowed: these endpoints authenticate with tokens, not
// cookies. Other origins get no CORS headers, so browsers refuse them.
// varyOrigin is the Vary header of an answer that varies by Origin alone.
// Shared by every answer: a later Add appends to a copy (its capacity is
// its length).
var varyOrigin = []string{"Origin"}

func newCORS(origins []string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			origin := r.Header.Get("Origin")
			if h := w.Header(); h["Vary"] == nil {
				h["Vary"] = varyOrigin // every answer: no map key to canonicalise, no slice to allocate
			} else {
				h.Add("Vary", "Origin")
			}
			allowed := origin != "" && slices.Contains(origins, origin)
			if allowed {
				w.Header().Set("Access-Control-Allow-Origin", origin)
				w.Header().Set("Access-Control-Expose-Headers", "WWW-Authenticate, DPoP-Nonce")
			}
			if r.Method == http.MethodOptions {
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
}
