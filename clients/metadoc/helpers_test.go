package metadoc

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-idp/latch/publicnet"
)

// docServer serves handler over TLS on loopback and counts the requests
// that reach it.
type docServer struct {
	*httptest.Server
	hits atomic.Int32
}

func newDocServer(t *testing.T, handler http.HandlerFunc) *docServer {
	t.Helper()
	s := &docServer{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		handler(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// serveJSON answers with v as JSON and the given Cache-Control.
func serveJSON(v any, cacheControl string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if cacheControl != "" {
			w.Header().Set("Cache-Control", cacheControl)
		}
		json.NewEncoder(w).Encode(v)
	}
}

// serveDocument serves a valid public client's document for its own URL.
func serveDocument(s **docServer, path, cacheControl string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		serveJSON(publicDoc((*s).URL+path), cacheControl)(w, r)
	}
}

func publicDoc(id string) map[string]any {
	return map[string]any{
		"client_id":                  id,
		"client_name":                "Example App",
		"redirect_uris":              []string{"https://app.example.com/callback"},
		"token_endpoint_auth_method": "none",
	}
}

// testTransport reaches the test server (the test's own transport, which
// trusts its certificate and dials loopback): for the rules that do not
// concern addresses.
func testTransport(s *docServer) http.RoundTripper {
	return s.Client().Transport
}

// safeTransport is the production transport, trusting the test server's
// certificate: only the address rules stand between it and the server.
func safeTransport(s *docServer) *http.Transport {
	tr := publicnet.NewTransport(2 * time.Second)
	tr.TLSClientConfig = s.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	return tr
}

func mustHosts(t *testing.T, entries ...string) Hosts {
	t.Helper()
	h, err := ParseHosts(entries)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// splitHostPort splits the host and port of a URL like https://h:p.
func splitHostPort(u string) (string, string, error) {
	return net.SplitHostPort(strings.TrimPrefix(u, "https://"))
}
