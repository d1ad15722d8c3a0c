package server

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/rs"
	"github.com/latch-idp/latch/storage"
)

// The rs tests run the resource-server package against a real latch: the
// tokens it must accept and refuse are the ones latch issues.

// apiFor is an API on testAPI guarded by rs against s; edit changes the
// verifier's configuration.
func apiFor(t *testing.T, s *testServer, edit func(*rs.Config)) *rs.Verifier {
	t.Helper()
	cfg := rs.Config{Issuer: s.URL, Audience: testAPI, Scopes: []string{"api:read", "api:write"}, MinRefetchInterval: time.Millisecond}
	if edit != nil {
		edit(&cfg)
	}
	v, err := rs.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("rs.New: %v", err)
	}
	return v
}

// ccToken is a client_credentials access token for scope.
func ccToken(t testing.TB, rp *relyingParty, scope string) string {
	t.Helper()
	status, body := rp.tokenRequest(t, url.Values{"grant_type": {"client_credentials"}, "scope": {scope}})
	if status != http.StatusOK {
		t.Fatalf("client_credentials: %s", describe(status, body))
	}
	return claim(body, "access_token")
}

// callAPI sends token through mw and returns the status and challenge.
func callAPI(t *testing.T, mw func(http.Handler) http.Handler, token string) (int, string) {
	t.Helper()
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := rs.ClaimsFrom(r.Context()); !ok {
			t.Error("no claims in the context")
		}
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Header().Get("WWW-Authenticate")
}

func TestRSAcceptsLatchTokens(t *testing.T) {
	s, rp := startAudience(t)
	v := apiFor(t, s, nil)
	u := s.user(t, storage.RoleUser)
	tok := rp.login(t, s.browser(), u, []string{"openid", "offline_access", "api:read"}, nil)
	t.Run("case=a user's token passes RequireUser with its claims", func(t *testing.T) {
		c, err := v.Verify(t.Context(), tok.AccessToken)
		if err != nil {
			t.Fatal(err)
		}
		if c.Subject != u.ID || c.ClientID != rp.client.ID || !c.IsUser() || !c.HasScope("api:read") || c.Role != storage.RoleUser {
			t.Fatalf("claims = %+v", c)
		}
		if status, _ := callAPI(t, v.RequireUser, tok.AccessToken); status != http.StatusOK {
			t.Fatalf("RequireUser: %d", status)
		}
	})
	t.Run("case=tokens that are no access tokens for this API are refused", func(t *testing.T) {
		other := loginFor(t, s, rp, []string{"openid", "other:read"})
		for name, bearer := range map[string]string{"ID token": tok.RawIDToken, "refresh token": tok.RefreshToken, "token for another API": other.AccessToken} {
			if status, challenge := callAPI(t, v.RequireUser, bearer); status != http.StatusUnauthorized || !strings.Contains(challenge, `error="invalid_token"`) {
				t.Errorf("%s: %d %s", name, status, challenge)
			}
		}
	})
	t.Run("case=a missing scope is insufficient_scope naming it", func(t *testing.T) {
		status, challenge := callAPI(t, v.RequireScope("api:write"), tok.AccessToken)
		if status != http.StatusForbidden || !strings.Contains(challenge, `error="insufficient_scope"`) || !strings.Contains(challenge, `scope="api:write"`) {
			t.Fatalf("%d %s", status, challenge)
		}
	})
}

func TestRSTellsUsersFromClientsAndAdmins(t *testing.T) {
	s, rp := startAudience(t)
	v := apiFor(t, s, nil)
	svc := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "api:read", TokenEndpointAuthMethod: storage.AuthMethodBasic})
	client := ccToken(t, svc, "api:read")
	user := loginFor(t, s, rp, []string{"api:read"}).AccessToken
	admin := rp.login(t, s.browser(), s.user(t, storage.RoleAdmin), []string{"api:read"}, nil).AccessToken
	for name, tc := range map[string]struct {
		mw    func(http.Handler) http.Handler
		token string
		want  int
	}{
		"client at RequireUser":   {v.RequireUser, client, http.StatusUnauthorized},
		"client at RequireClient": {v.RequireClient, client, http.StatusOK},
		"user at RequireClient":   {v.RequireClient, user, http.StatusUnauthorized},
		"user at RequireAdmin":    {v.RequireAdmin, user, http.StatusForbidden},
		"admin at RequireAdmin":   {v.RequireAdmin, admin, http.StatusOK},
		"no token":                {v.RequireUser, "", http.StatusUnauthorized},
	} {
		if status, _ := callAPI(t, tc.mw, tc.token); status != tc.want {
			t.Errorf("%s: %d, want %d", name, status, tc.want)
		}
	}
}

func TestRSFollowsKeyRotation(t *testing.T) {
	s := startServer(t, nil)
	v := apiFor(t, s, nil)
	svc := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "api:read", TokenEndpointAuthMethod: storage.AuthMethodBasic})
	// A key that signs at once, as `latch keys rotate` makes on another
	// replica; this one sees it at its next reload.
	other := keys.NewManager(s.store, s.box, keys.Options{Algorithms: []string{"RS256"}, PublishAhead: time.Millisecond})
	created, err := other.Rotate(t.Context())
	if err != nil || len(created) != 1 {
		t.Fatalf("rotate: %v", err)
	}
	if err := s.keys.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	tok := ccToken(t, svc, "api:read")
	if h, _ := s.verifyJWT(t, tok); h.KeyID != created[0].ID {
		t.Fatalf("token signed by %s, want the new key %s", h.KeyID, created[0].ID)
	}
	if status, challenge := callAPI(t, v.RequireClient, tok); status != http.StatusOK {
		t.Fatalf("a token of the rotated key: %d %s", status, challenge)
	}
}

func TestRSStrictModeSeesRevocation(t *testing.T) {
	s := startServer(t, nil)
	// The API introspects as a client of its own, which its resource
	// names; the token is another client's.
	api := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: storage.AuthMethodBasic})
	s.resource(t, resources.Metadata{Resource: "https://strict.example.com", Scopes: []string{"strict:read"}, IntrospectionClients: []string{api.client.ID}})
	app := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "strict:read", TokenEndpointAuthMethod: storage.AuthMethodBasic})
	v := apiFor(t, s, func(c *rs.Config) {
		c.Audience = "https://strict.example.com"
		c.Introspection = &rs.Introspection{ClientID: api.client.ID, ClientSecret: api.secret, CacheTTL: time.Millisecond}
	})
	tok := ccToken(t, app, "strict:read")
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("active token: %v", err)
	}
	if status, body := s.post(t, "/oauth2/revoke", app.auth(url.Values{"token": {tok}})); status != http.StatusOK {
		t.Fatalf("revoke: %s", describe(status, body))
	}
	time.Sleep(5 * time.Millisecond)
	if status, challenge := callAPI(t, v.RequireClient, tok); status != http.StatusUnauthorized || !strings.Contains(challenge, "revoked") {
		t.Fatalf("a revoked token in strict mode: %d %s", status, challenge)
	}
}

// TestRSHonoursDPoPBinding runs a DPoP-bound token latch issued through
// the rs middleware: with the DPoP scheme and a proof of its key it
// passes; as a bearer token, or without the proof, it is refused with a
// DPoP challenge.
func TestRSHonoursDPoPBinding(t *testing.T) {
	s, _ := startAudience(t)
	svc := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "api:read", TokenEndpointAuthMethod: storage.AuthMethodBasic})
	key := newDPoPKey(t)
	r := svc.dpopTokenRequest(t, url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}}, key.proof(t, http.MethodPost, s.URL+"/oauth2/token"))
	at, _ := s.mustDPoPTokens(t, r, key)
	v := apiFor(t, s, nil)
	call := func(scheme, proof string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/notes", nil)
		req.Header.Set("Authorization", scheme+" "+at)
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		rec := httptest.NewRecorder()
		v.RequireClient(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, req)
		return rec
	}
	if rec := call("DPoP", key.proof(t, http.MethodGet, "http://example.com/notes", withATH(at))); rec.Code != http.StatusOK {
		t.Errorf("with its proof: %d %s", rec.Code, rec.Body)
	}
	for name, rec := range map[string]*httptest.ResponseRecorder{
		"as a bearer token":    call("Bearer", ""),
		"without a proof":      call("DPoP", ""),
		"with another's proof": call("DPoP", newDPoPKey(t).proof(t, http.MethodGet, "http://example.com/notes", withATH(at))),
	} {
		if ch := rec.Header().Get("WWW-Authenticate"); rec.Code != http.StatusUnauthorized || !strings.HasPrefix(ch, "DPoP ") {
			t.Errorf("%s: %d, WWW-Authenticate %q; want 401 with a DPoP challenge", name, rec.Code, ch)
		}
	}
}
