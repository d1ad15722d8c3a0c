package server

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/storage"
)

// introspectionCallers is a server with an app, an unrelated client, and
// an API whose resource names the client it introspects with.
type introspectionCallers struct {
	s                *testServer
	app, other, gate *relyingParty
	// post authenticates in the form, which introspection accepts too.
	post      *relyingParty
	postToken string
	// apiToken is for the API, plainToken for no API; refresh is the app's.
	apiToken, plainToken, refresh string
}

const reportsAPI = "https://reports.example.com"

func startIntrospectionCallers(t *testing.T) *introspectionCallers {
	t.Helper()
	s := startServer(t, nil)
	confidential := func(scope string) *relyingParty {
		return s.client(t, clients.Metadata{Scope: scope, TokenEndpointAuthMethod: storage.AuthMethodBasic,
			GrantTypes: []string{"authorization_code", "refresh_token", "client_credentials"}})
	}
	f := &introspectionCallers{s: s, app: confidential("openid offline_access reports:read"), other: confidential("openid"), gate: confidential("openid")}
	s.resource(t, resources.Metadata{Resource: reportsAPI, Scopes: []string{"reports:read"}, IntrospectionClients: []string{f.gate.client.ID}})
	u := s.user(t, storage.RoleUser)
	tok := f.app.login(t, s.browser(), u, []string{"openid", "offline_access", "reports:read"}, map[string]string{"resource": reportsAPI})
	f.apiToken, f.refresh = tok.AccessToken, tok.RefreshToken
	f.plainToken = f.app.login(t, s.browser(), u, []string{"openid"}, nil).AccessToken
	f.post = s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "reports:read", TokenEndpointAuthMethod: storage.AuthMethodPost})
	_, f.postToken = s.rsToken(t, f.post)
	return f
}

// activeTo reports whether token introspects active to caller.
func (f *introspectionCallers) activeTo(t *testing.T, caller *relyingParty, token string) bool {
	t.Helper()
	status, body := f.s.post(t, "/oauth2/introspect", caller.auth(url.Values{"token": {token}}))
	if status != http.StatusOK {
		t.Fatalf("introspect as %s: %s", caller.client.ID, describe(status, body))
	}
	return body["active"] == true
}

func TestIntrospectionAnswersPerCaller(t *testing.T) {
	f := startIntrospectionCallers(t)
	for _, c := range []struct {
		name   string
		caller *relyingParty
		token  string
		want   bool
	}{
		{"the app, its access token", f.app, f.apiToken, true},
		{"the app, its refresh token", f.app, f.refresh, true},
		{"another client, the app's access token", f.other, f.apiToken, false},
		{"another client, the app's refresh token", f.other, f.refresh, false},
		{"the API's client, an access token for the API", f.gate, f.apiToken, true},
		{"the API's client, an access token for no API", f.gate, f.plainToken, false},
		{"the API's client, a refresh token for the API", f.gate, f.refresh, false},
		{"a latch:admin client, any token", f.s.rs, f.refresh, true},
		{"a client_secret_post client, its own token", f.post, f.postToken, true},
	} {
		t.Run("case="+c.name, func(t *testing.T) {
			if got := f.activeTo(t, c.caller, c.token); got != c.want {
				t.Errorf("active = %v, want %v", got, c.want)
			}
		})
	}
}
