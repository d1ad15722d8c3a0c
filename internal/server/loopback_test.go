package server

import (
	"net/http"
	"testing"

	"github.com/latch-idp/latch/clients"
)

// TestNativeAppLoopbackRedirect pins RFC 8252 section 7.3: a native app
// registers a loopback redirect URI without a port and may use any port at
// run time; everything else about the URI must still match exactly.
func TestNativeAppLoopbackRedirect(t *testing.T) {
	s := startServer(t, nil)
	u := s.user(t, "user")
	rp := s.client(t, clients.Metadata{
		RedirectURIs: []string{"http://127.0.0.1/callback"}, Scope: "openid",
		TokenEndpointAuthMethod: "none", FirstParty: true,
	})
	t.Run("case=any port on the registered loopback URI", func(t *testing.T) {
		ar := rp.authURL([]string{"openid"}, map[string]string{"redirect_uri": "http://127.0.0.1:51234/callback"})
		res := s.browser().authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword})
		if res.Callback == nil || res.Callback.Host != "127.0.0.1:51234" {
			t.Fatalf("want a redirect to the app's port, got %v", res.Callback)
		}
		conf := *rp.conf
		conf.RedirectURL = "http://127.0.0.1:51234/callback"
		rp2 := *rp
		rp2.conf = &conf
		rp2.exchange(t, res.code(t, s, ar.State), ar)
	})
	for name, redirect := range map[string]string{
		"another path":     "http://127.0.0.1:51234/other",
		"localhost":        "http://localhost:51234/callback",
		"another host":     "http://127.0.0.2:51234/callback",
		"https":            "https://127.0.0.1:51234/callback",
		"an added query":   "http://127.0.0.1:51234/callback?x=1",
		"a user info part": "http://evil@127.0.0.1:51234/callback",
	} {
		t.Run("case=refused: "+name, func(t *testing.T) {
			ar := rp.authURL([]string{"openid"}, map[string]string{"redirect_uri": redirect})
			p := s.browser().get(t, ar.URL)
			if p.Status != http.StatusBadRequest || p.Location != nil {
				t.Fatalf("%s: want an error page, got %d %v", redirect, p.Status, p.Location)
			}
		})
	}
}
