package clients_test

import (
	"strings"
	"testing"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/secret"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    clients.Metadata
		want string // "" means valid
	}{
		{"https redirect", clients.Metadata{RedirectURIs: []string{"https://app.example.com/cb"}}, ""},
		{"loopback http", clients.Metadata{RedirectURIs: []string{"http://127.0.0.1:5000/cb", "http://localhost/cb", "http://[::1]/cb"}}, ""},
		{"native private scheme", clients.Metadata{RedirectURIs: []string{"com.example.app:/oauth"}, TokenEndpointAuthMethod: "none"}, ""},
		{"client credentials only needs no redirect", clients.Metadata{GrantTypes: []string{"client_credentials"}}, ""},
		{"public device client needs no redirect", clients.Metadata{GrantTypes: []string{clients.GrantDeviceCode, clients.GrantRefreshToken}, TokenEndpointAuthMethod: "none"}, ""},
		{"plain http elsewhere", clients.Metadata{RedirectURIs: []string{"http://app.example.com/cb"}}, "loopback"},
		{"fragment", clients.Metadata{RedirectURIs: []string{"https://app.example.com/cb#x"}}, "fragment"},
		{"relative", clients.Metadata{RedirectURIs: []string{"/cb"}}, "absolute"},
		{"user information", clients.Metadata{RedirectURIs: []string{"https://me@app.example.com/cb"}}, "user information"},
		{"missing redirect", clients.Metadata{}, "redirect_uris"},
		{"implicit grant", clients.Metadata{RedirectURIs: []string{"https://a.example/cb"}, GrantTypes: []string{"implicit"}}, "grant_types"},
		{"password grant", clients.Metadata{RedirectURIs: []string{"https://a.example/cb"}, GrantTypes: []string{"password"}}, "grant_types"},
		{"token response type", clients.Metadata{RedirectURIs: []string{"https://a.example/cb"}, ResponseTypes: []string{"token"}}, "response_types"},
		{"unknown auth method", clients.Metadata{RedirectURIs: []string{"https://a.example/cb"}, TokenEndpointAuthMethod: "tls_client_auth"}, "token_endpoint_auth_method"},
		{"public client credentials", clients.Metadata{GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "none"}, "public"},
		{"secret given", clients.Metadata{RedirectURIs: []string{"https://a.example/cb"}, ClientSecret: "mine"}, "client_secret"},
		{"bad client id", clients.Metadata{ClientID: "a/b", RedirectURIs: []string{"https://a.example/cb"}}, "client_id"},
		{"passkey required", clients.Metadata{RedirectURIs: []string{"https://a.example/cb"}, MinimumACRValue: "phrh"}, ""},
		{"unknown acr", clients.Metadata{RedirectURIs: []string{"https://a.example/cb"}, MinimumACRValue: "gold"}, "minimum_acr_value"},
		{"unsupported ID token alg", clients.Metadata{RedirectURIs: []string{"https://a.example/cb"}, IDTokenSignedResponseAlg: "HS256"}, "id_token_signed_response_alg"},
		{"ID token alg none", clients.Metadata{RedirectURIs: []string{"https://a.example/cb"}, IDTokenSignedResponseAlg: "none"}, "id_token_signed_response_alg"},
		{"back-channel logout over https", backchannel("https://a.example/logout", true), ""},
		{"back-channel logout on loopback", backchannel("http://127.0.0.1:9000/logout", false), ""},
		{"back-channel logout over plain http", backchannel("http://a.example/logout", false), "backchannel_logout_uri"},
		{"back-channel logout with a fragment", backchannel("https://a.example/logout#x", false), "fragment"},
		{"back-channel logout with user information", backchannel("https://u:p@a.example/logout", false), "user information"},
		{"back-channel logout elsewhere", backchannel("javascript:alert(1)", false), "backchannel_logout_uri"},
		{"back-channel logout relative", backchannel("/logout", false), "absolute"},
		{"session required without a URI", backchannel("", true), "backchannel_logout_session_required"},
	} {
		t.Run("case="+tc.name, func(t *testing.T) {
			m := tc.m
			err := clients.Validate(&m)
			if tc.want == "" && err != nil {
				t.Fatalf("want valid, got %v", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("want an error containing %q, got %v", tc.want, err)
			}
		})
	}
}

func TestNewDefaultsAndSecret(t *testing.T) {
	box, err := secret.New([]byte("a system secret of at least thirty-two bytes"))
	if err != nil {
		t.Fatal(err)
	}
	c, sec, err := clients.New(clients.Metadata{RedirectURIs: []string{"https://a.example/cb"}}, box)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID == "" || c.TokenEndpointAuthMethod != "client_secret_basic" || c.GrantTypes[0] != "authorization_code" || c.ResponseTypes[0] != "code" || c.Scopes[0] != "openid" {
		t.Fatalf("defaults: %+v", c)
	}
	if len(sec) != 43 || !box.Verify(clients.SecretPurpose, []byte(sec), c.SecretHash) {
		t.Fatalf("want a 256-bit secret whose keyed hash is stored, got %d chars", len(sec))
	}
	pub, sec, err := clients.New(clients.Metadata{RedirectURIs: []string{"https://a.example/cb"}, TokenEndpointAuthMethod: "none"}, box)
	if err != nil || sec != "" || pub.SecretHash != nil {
		t.Fatalf("a public client has no secret: %v %q", err, sec)
	}
	m := clients.ToMetadata(c)
	if m.ClientSecret != "" || m.Scope != "openid" || m.ClientID != c.ID {
		t.Fatalf("metadata: %+v", m)
	}
}

func TestNewIDNeverLooksLikeAFlag(t *testing.T) {
	for range 2000 {
		if id := clients.NewID(); strings.HasPrefix(id, "-") || len(id) < 20 {
			t.Fatalf("clients.NewID() = %q", id)
		}
	}
}

func TestCheckSelfRegistered(t *testing.T) {
	ok := clients.Metadata{ClientName: "App", GrantTypes: []string{clients.GrantAuthorizationCode, clients.GrantRefreshToken, clients.GrantDeviceCode}, Scope: "openid api:read"}
	if err := clients.CheckSelfRegistered(ok, ""); err != nil {
		t.Fatalf("acceptable metadata refused: %v", err)
	}
	for name, m := range map[string]clients.Metadata{
		"a client_id":                     {ClientID: "mine"},
		"first-party trust":               {FirstParty: true},
		"client_credentials":              {GrantTypes: []string{clients.GrantClientCredentials}},
		"the admin scope":                 {Scope: "openid latch:admin"},
		"keys by URL":                     {JWKSURI: "https://keys.example.com"},
		"a long name":                     {ClientName: strings.Repeat("x", 101)},
		"a control character in the name": {ClientName: "App\u202eevil"},
	} {
		if err := clients.CheckSelfRegistered(m, ""); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if err := clients.CheckSelfRegistered(clients.Metadata{ClientID: "x"}, "x"); err != nil {
		t.Errorf("its own client_id on update refused: %v", err)
	}
	if !clients.RedirectURIProblem(clients.Validate(&clients.Metadata{RedirectURIs: []string{"http://evil.example/cb"}})) {
		t.Error("a bad redirect URI is not reported as one")
	}
}

func TestLoopbackRedirectMatch(t *testing.T) {
	for _, c := range []struct {
		registered, requested string
		want                  bool
	}{
		{"http://127.0.0.1/cb", "http://127.0.0.1:5000/cb", true},
		{"http://[::1]/cb", "http://[::1]:5000/cb", true},
		{"http://localhost:3000/cb", "http://localhost:5000/cb", true},
		{"https://127.0.0.1/cb", "http://127.0.0.1:5000/cb", false},
		{"http://127.0.0.1/cb", "https://127.0.0.1:5000/cb", false},
		{"http://localhost/cb", "http://127.0.0.1:5000/cb", false},
		{"http://example.com/cb", "http://example.com:5000/cb", false},
		{"http://localhost/cb", "http://localhost:5000/cb?x=1", false},
		{"http://localhost/cb", "http://u@localhost:5000/cb", false},
	} {
		if got := clients.LoopbackRedirectMatch(c.registered, c.requested); got != c.want {
			t.Errorf("LoopbackRedirectMatch(%q, %q) = %v, want %v", c.registered, c.requested, got, c.want)
		}
	}
}

// backchannel is a valid registration with a back-channel logout URI.
func backchannel(uri string, sid bool) clients.Metadata {
	return clients.Metadata{RedirectURIs: []string{"https://a.example/cb"}, BackchannelLogoutURI: uri, BackchannelLogoutSessionRequired: sid}
}
