package metadoc

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/latch-idp/latch/publicnet"
)

// ssrfCase fetches url with the production transport (which trusts the
// test server's certificate) and wants the connection refused for its
// address, with the server never reached.
func ssrfCase(t *testing.T, s *docServer, tr *http.Transport, url string) {
	t.Helper()
	_, err := newFetcher(tr, 2*time.Second).get(t.Context(), url, DefaultMaxBytes)
	if !errors.Is(err, publicnet.ErrForbiddenAddress) {
		t.Fatalf("fetch %s: %v, want %v", url, err, publicnet.ErrForbiddenAddress)
	}
	if n := s.hits.Load(); n != 0 {
		t.Fatalf("the server was reached %d times", n)
	}
}

func TestTransportRefusesLoopbackIPv4(t *testing.T) {
	s := newDocServer(t, serveJSON(map[string]any{}, ""))
	// The test's own client reaches the server: the refusal below is the
	// address rule's, not a broken server.
	if resp, err := s.Client().Get(s.URL + "/client.json"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("test server unreachable: %v", err)
	}
	s.hits.Store(0)
	ssrfCase(t, s, safeTransport(s), s.URL+"/client.json")
}

func TestTransportRefusesLocalhostName(t *testing.T) {
	s := newDocServer(t, serveJSON(map[string]any{}, ""))
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	ssrfCase(t, s, safeTransport(s), "https://localhost:"+port+"/client.json")
}

func TestTransportRefusesLoopbackIPv6(t *testing.T) {
	s := &docServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.hits.Add(1) }))
	if ln, err := net.Listen("tcp6", "[::1]:0"); err == nil {
		s.Listener.Close()
		s.Listener = ln
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	ssrfCase(t, s, safeTransport(s), "https://[::1]:"+port+"/client.json")
}

func TestTransportRefusesMappedLoopback(t *testing.T) {
	s := newDocServer(t, serveJSON(map[string]any{}, ""))
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	ssrfCase(t, s, safeTransport(s), "https://[::ffff:127.0.0.1]:"+port+"/client.json")
}
