package provider

import (
	"net"
	"net/url"
	"slices"
	"testing"

	"github.com/ory/fosite"

	"github.com/latch-idp/latch/clients"
)

// FuzzRedirectURIMatch feeds a registered and a requested redirect URI to
// the matching the authorization endpoint does (fosite's match, then
// latch's checks): no panic, and a match is either the registered URI
// itself or, for an http loopback registration only, the same loopback
// host, path and query on another port. Never another scheme or host.
func FuzzRedirectURIMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"https://app.example.com/cb", "https://app.example.com/cb"},
		{"http://127.0.0.1/cb", "http://127.0.0.1:5000/cb"},
		{"https://127.0.0.1/x", "http://127.0.0.1:5000/x"},
		{"http://[::1]/cb?a=1", "http://[::1]:8/cb?a=1"},
		{"http://localhost/cb", "http://localhost:9/cb"},
		{"http://127.0.0.1/cb", "http://u@127.0.0.1:1/cb"},
		{"com.example.app:/oauth", "com.example.app:/oauth"},
		{"https://app.example.com/cb", "https://app.example.com/cb/../cb"},
		{"http://127.0.0.1/cb", "http://127.0.0.1.evil.example:80/cb"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, registered, requested string) {
		m := clients.Metadata{RedirectURIs: []string{registered}, TokenEndpointAuthMethod: "none"}
		if clients.Validate(&m) != nil {
			return // not a URI latch lets a client register
		}
		client := &fosite.DefaultClient{ID: "c", RedirectURIs: []string{registered}}
		u, err := fosite.MatchRedirectURIWithClientRedirectURIs(requested, client)
		if err != nil {
			return
		}
		ar := fosite.NewAuthorizeRequest()
		ar.Client = client
		ar.RedirectURI = u
		ar.Form = url.Values{"redirect_uri": {requested}}
		if u.User != nil || !loopbackExceptionHolds(ar) { // what checkAuthorizeRequest and the error page refuse
			return
		}
		if requested == "" || slices.Contains(client.RedirectURIs, requested) {
			return
		}
		reg, _ := url.Parse(registered)
		ip := net.ParseIP(u.Hostname())
		if reg.Scheme != "http" || u.Scheme != "http" || reg.Hostname() != u.Hostname() || ip == nil || !ip.IsLoopback() ||
			reg.Path != u.Path || reg.RawQuery != u.RawQuery {
			t.Fatalf("registered %q matched requested %q", registered, requested)
		}
	})
}
