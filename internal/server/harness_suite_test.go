package server

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

// The two client sets the protocol tests share. A test starts its own
// server with one of them and runs its cases on it; each case uses users
// (and, where it matters, clients) of its own, so cases never see each
// other's grants.

// spaOrigin is the public client's origin in the protocol tests: its
// browser code may call the token endpoint (CORS).
const spaOrigin = "https://spa.example.com"

// allScopes are the OpenID Connect scopes the protocol tests ask for.
var allScopes = []string{"openid", "profile", "email", "offline_access"}

// oidcSuite is a server with the relying parties of the protocol tests: a
// public single-page app, two confidential clients (client_secret_basic and
// client_secret_post), a first-party app and a client_credentials service.
type oidcSuite struct {
	s                                        *testServer
	public, basic, post, firstParty, service *relyingParty
}

func startOIDC(t testing.TB) *oidcSuite {
	t.Helper()
	s := startServer(t, func(c *Config) { c.CORSOrigins = []string{spaOrigin} })
	public := s.client(t, clients.Metadata{
		ClientName: "Public SPA", TokenEndpointAuthMethod: storage.AuthMethodNone,
		Scope: "openid profile email offline_access", PostLogoutRedirectURIs: []string{"https://spa.example.com/signed-out"},
	})
	basic := s.client(t, clients.Metadata{
		ClientName: "Confidential (basic)", TokenEndpointAuthMethod: storage.AuthMethodBasic,
		Scope: "openid profile email offline_access",
	})
	post := s.client(t, clients.Metadata{
		ClientName: "Confidential (post)", TokenEndpointAuthMethod: storage.AuthMethodPost,
		Scope: "openid profile email offline_access",
	})
	firstParty := s.client(t, clients.Metadata{
		ClientName: "First-party app", TokenEndpointAuthMethod: storage.AuthMethodNone,
		Scope: "openid profile email", FirstParty: true,
	})
	service := s.client(t, clients.Metadata{
		ClientName: "Service", GrantTypes: []string{"client_credentials"},
		Scope: "api:read api:write", TokenEndpointAuthMethod: storage.AuthMethodBasic,
	})
	return &oidcSuite{s: s, public: public, basic: basic, post: post, firstParty: firstParty, service: service}
}

// attackSuite is a server with the clients the attack tests play against
// each other: two public clients, two confidential ones and a
// client_credentials service.
type attackSuite struct {
	s                                   *testServer
	scopes                              []string
	public, other, basic, post, service *relyingParty
}

func startAttack(t testing.TB) *attackSuite {
	t.Helper()
	s := startServer(t, nil)
	scopes := []string{"openid", "email", "offline_access"}
	public := s.client(t, clients.Metadata{
		ClientName: "Public", TokenEndpointAuthMethod: storage.AuthMethodNone, Scope: "openid email offline_access",
		PostLogoutRedirectURIs: []string{"https://public.example.com/signed-out"},
	})
	other := s.client(t, clients.Metadata{ClientName: "Other public", TokenEndpointAuthMethod: storage.AuthMethodNone, Scope: "openid email offline_access"})
	basic := s.client(t, clients.Metadata{ClientName: "Basic", TokenEndpointAuthMethod: storage.AuthMethodBasic, Scope: "openid email offline_access"})
	post := s.client(t, clients.Metadata{ClientName: "Post", TokenEndpointAuthMethod: storage.AuthMethodPost, Scope: "openid email offline_access"})
	service := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "api:read", TokenEndpointAuthMethod: storage.AuthMethodBasic})
	return &attackSuite{s: s, scopes: scopes, public: public, other: other, basic: basic, post: post, service: service}
}

// steps are what a user does in the attack tests: log in and consent.
func (a *attackSuite) steps(u storage.User) flowSteps {
	return flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"}
}

// codeOf runs a flow for rp and returns its code, not exchanged.
func (a *attackSuite) codeOf(t testing.TB, rp *relyingParty, b *browser, u storage.User, params map[string]string) (string, authRequest) {
	t.Helper()
	ar := rp.authURL(a.scopes, params)
	return b.authorize(t, ar.URL, a.steps(u)).code(t, a.s, ar.State), ar
}

// exchange presents a code at the token endpoint as rp, with the
// redirect_uri and code_verifier given ("" leaves the verifier out).
func (a *attackSuite) exchange(t testing.TB, rp *relyingParty, code, redirect, verifier string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	return rp.tokenRequest(t, form)
}

// invalidGrant asserts a 400 invalid_grant answer.
func invalidGrant(t testing.TB, what string, status int, body map[string]any) {
	t.Helper()
	if status != http.StatusBadRequest || oauthError(body) != "invalid_grant" {
		t.Errorf("%s: %s, want 400 invalid_grant", what, describe(status, body))
	}
}
