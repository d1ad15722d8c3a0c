package clients_test

import (
	"encoding/json"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/secret"
)

// FuzzMetadata feeds client metadata JSON (as the admin API, the CLI and
// registration read it) to Validate and New: no panic; accepted metadata
// has only redirect URIs that are absolute, without fragment or user
// information, and plain http only on a loopback host; and the stored
// client described again validates to the same description.
func FuzzMetadata(f *testing.F) {
	for _, s := range []string{
		`{"redirect_uris":["https://app.example.com/cb"]}`,
		`{"redirect_uris":["http://127.0.0.1:5000/cb","http://[::1]/cb","http://localhost/cb"],"token_endpoint_auth_method":"none"}`,
		`{"redirect_uris":["com.example.app:/oauth"],"token_endpoint_auth_method":"none","post_logout_redirect_uris":["https://a.example/bye"]}`,
		`{"grant_types":["client_credentials"],"scope":"api:read"}`,
		`{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]}}`,
		`{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks_uri":"https://a.example/jwks"}`,
		`{"redirect_uris":["http://127.0.0.1.evil.example/cb"]}`,
		`{"redirect_uris":["https://a.example/cb#x"],"client_id":"a b"}`,
		`{"jwks":null,"redirect_uris":null}`,
		`[]`, `null`, `{"redirect_uris":[1]}`,
	} {
		f.Add([]byte(s))
	}
	box, err := secret.New([]byte("client-metadata-fuzz-secret-0123456789ab"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var m clients.Metadata
		if json.Unmarshal(body, &m) != nil {
			return
		}
		c, _, err := clients.New(m, box)
		if err != nil {
			return
		}
		for _, raw := range append(c.RedirectURIs, c.PostLogoutRedirectURIs...) {
			checkRegisteredURI(t, raw)
		}
		d := clients.ToMetadata(c)
		again := d
		if err := clients.Validate(&again); err != nil {
			t.Fatalf("stored client %s does not validate again: %v", body, err)
		}
		a, _ := json.Marshal(d)
		b, _ := json.Marshal(again)
		if string(a) != string(b) {
			t.Fatalf("validating a stored client changed it:\n%s\n%s", a, b)
		}
	})
}

func checkRegisteredURI(t *testing.T, raw string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.User != nil || strings.Contains(raw, "#") {
		t.Fatalf("accepted redirect URI %q", raw)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			t.Fatalf("accepted https redirect URI without host %q", raw)
		}
	case "http":
		if ip := net.ParseIP(u.Hostname()); u.Hostname() != "localhost" && (ip == nil || !ip.IsLoopback()) {
			t.Fatalf("accepted plain http redirect URI off loopback %q", raw)
		}
	default:
		if !strings.Contains(u.Scheme, ".") {
			t.Fatalf("accepted redirect URI of scheme %q", u.Scheme)
		}
	}
}
