package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/latch-idp/latch/web"
)

// FuzzProxies feeds LATCH_TRUSTED_PROXIES values and forwarding headers to
// the proxy rules: no panic; a peer that is not a trusted proxy keeps its
// own address whatever it sends; the client found is an address, and the
// key the per-address limits count is never empty.
func FuzzProxies(f *testing.F) {
	f.Add("10.0.0.0/8, ::1", "10.1.2.3:4000", "for=192.0.2.60;proto=http, for=\"[2001:db8::1]:443\"", "203.0.113.9, 10.0.0.2")
	f.Add("10.0.0.1", "10.0.0.1:1", "", "2001:db8::5, 10.0.0.1")
	f.Add("", "192.0.2.1:5", "for=unknown", "x")
	f.Add("0.0.0.0/0,::/0", "[::ffff:10.0.0.1]:9", "for=\"_hidden\", for=fe80::1%eth0", "fe80::1%25x, ::ffff:1.2.3.4")
	f.Add("10.0.0.0/33", "bad", "for=", ",,,")
	f.Fuzz(func(t *testing.T, cidrs, peer, forwarded, xff string) {
		p, err := web.ParseProxies(strings.Split(cidrs, ","))
		if err != nil {
			return
		}
		if _, err := netip.ParseAddrPort(peer); err != nil {
			return // net/http always sets RemoteAddr to an address and port
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = peer
		if forwarded != "" {
			r.Header.Set("Forwarded", forwarded)
		}
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		var seen *http.Request
		p.Middleware(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { seen = r })).ServeHTTP(httptest.NewRecorder(), r)
		if seen == nil {
			t.Fatal("the middleware did not call the handler")
		}
		if web.ClientNetwork(seen) == "" {
			t.Fatalf("empty rate-limit key for peer %q", peer)
		}
		if seen.RemoteAddr == peer {
			return
		}
		a, err := netip.ParseAddr(strings.Trim(web.ClientIP(r), "[]"))
		if err != nil || !trusted(p, a) {
			t.Fatalf("peer %q, not a trusted proxy, became %q", peer, seen.RemoteAddr)
		}
		if _, err := netip.ParseAddr(web.ClientIP(seen)); err != nil {
			t.Fatalf("client %q is not an address: %v", seen.RemoteAddr, err)
		}
	})
}

func trusted(p web.Proxies, a netip.Addr) bool {
	for _, n := range p {
		if n.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}
