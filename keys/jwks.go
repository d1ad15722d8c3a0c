package keys

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
)

// Header values shared by every answer; a handler that changed one would
// Set a new slice, never write into these.
var (
	contentTypeJSON = []string{"application/json"}
	nosniff         = []string{"nosniff"}
)

// JWKSPath is where the JWK Set is served.
const JWKSPath = "/.well-known/jwks.json"

// maxCacheAge caps how long clients may cache the JWKS.
const maxCacheAge = time.Hour

// snapshot returns the keyring with its JWKS rendered as of now. The JWKS
// is rendered when the keys change (Reload) and when a retired key's
// retention ends, never per request.
func (m *Manager) snapshot() *keyring {
	r := m.ring.Load()
	if r.until.IsZero() || m.now().Before(r.until) {
		return r
	}
	// A retired key has just left the published set. If a reload holds the
	// lock, serve the old document for that moment rather than wait on the
	// store.
	if !m.mu.TryLock() {
		return r
	}
	prev := m.ring.Load()
	next := &keyring{keys: prev.keys, byID: prev.byID, newest: prev.newest}
	if err := next.render(m.opts.Retain, m.now(), prev); err != nil {
		m.mu.Unlock()
		return prev
	}
	m.ring.Store(next)
	m.mu.Unlock()
	m.changed(prev, next)
	return next
}

// JWKS returns the public JWK Set: every published key with kid, kty, alg
// and use "sig".
func (m *Manager) JWKS() []byte {
	return bytes.Clone(m.snapshot().jwks)
}

// Version counts changes of the published key set; it grows whenever the
// JWKS document changes, so that anything derived from the keys can tell
// when to render itself again.
func (m *Manager) Version() uint64 {
	return m.snapshot().version
}

// CacheMaxAge is the max-age the JWKS is served with. A client that fetched
// the JWKS just before a replica loaded a new key must fetch it again before
// the key signs: PublishAhead minus Refresh at most; half of that leaves
// room for clock skew.
func (m *Manager) CacheMaxAge() time.Duration {
	d := (m.opts.PublishAhead - m.opts.Refresh) / 2
	return min(max(d, 0), maxCacheAge).Truncate(time.Second)
}

// Handler serves the JWKS.
type Handler struct {
	Keys *Manager
}

// Mount registers the JWKS endpoint. It accepts every method and answers
// those other than GET and HEAD with 405 itself, so that a CORS middleware
// wrapping the router still sees the preflight.
func (h *Handler) Mount(r *mux.Router) {
	r.Handle(JWKSPath, h)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	s := h.Keys.snapshot()
	hd := w.Header()
	// Assigned rather than Set: the keys are canonical and the values
	// made once per key change.
	hd["Content-Type"] = contentTypeJSON
	hd["Cache-Control"] = []string{"public, max-age=" + strconv.Itoa(int(h.Keys.CacheMaxAge()/time.Second))}
	hd["Etag"] = s.etagHeader
	hd["X-Content-Type-Options"] = nosniff
	if etagMatch(r.Header.Get("If-None-Match"), s.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hd["Content-Length"] = s.lengthHeader
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(s.jwks)
}

// etagMatch reports whether an If-None-Match header names etag (RFC 9110
// 13.1.2: weak comparison, a list, or "*").
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
