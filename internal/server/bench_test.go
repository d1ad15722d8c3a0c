package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/provider"
	"github.com/latch-idp/latch/storage"
)

// benchService registers a client_credentials client on a started server
// that signs access tokens with ES256, latch's default.
func benchService(b *testing.B) (*testServer, *relyingParty) {
	s := startServer(b, func(c *Config) { c.AccessTokenAlg = "ES256" })
	return s, s.client(b, clients.Metadata{GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: storage.AuthMethodBasic})
}

// serveForm posts form to path through latch's whole handler chain in
// process (no network, no HTTP parsing), as rp, over and over, and checks
// for a 200 whose body contains want.
func serveForm(b *testing.B, s *testServer, rp *relyingParty, path string, form url.Values, want string) {
	body := form.Encode()
	b.ReportAllocs()
	for b.Loop() {
		if rec := postInProcess(s, rp, path, body); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
			b.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body)
		}
	}
}

// postInProcess posts a form body to path through latch's handler chain,
// authenticated as rp.
func postInProcess(s *testServer, rp *relyingParty, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(rp.client.ID), url.QueryEscape(rp.secret))
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	return rec
}

// BenchmarkIntrospection is an introspection of a JWT access token by the
// client that holds it: client authentication, the Redis read of the
// token's stored grant, fosite and the answer (make bench measures the
// same over HTTP).
func BenchmarkIntrospection(b *testing.B) {
	s, svc := benchService(b)
	status, body := svc.tokenRequest(b, url.Values{"grant_type": {"client_credentials"}})
	if status != http.StatusOK {
		b.Fatalf("client_credentials: %s", describe(status, body))
	}
	serveForm(b, s, svc, provider.PathIntrospect, url.Values{"token": {claim(body, "access_token")}}, `"active":true`)
}

// BenchmarkClientCredentials is a token request with the client_credentials
// grant: client authentication, minting and signing an ES256 access token,
// and storing its grant in Redis.
func BenchmarkClientCredentials(b *testing.B) {
	s, svc := benchService(b)
	serveForm(b, s, svc, provider.PathToken, url.Values{"grant_type": {"client_credentials"}}, `"access_token"`)
}

// BenchmarkRefresh is a refresh of a user's tokens: the refresh token's
// rotation in one PostgreSQL transaction, a new ES256 access token and an
// ID token, RS256 (the default) or ES256.
func BenchmarkRefresh(b *testing.B) {
	for _, alg := range []string{"RS256", "ES256"} {
		b.Run("id_token="+alg, func(b *testing.B) { benchRefresh(b, alg) })
	}
}

func benchRefresh(b *testing.B, idTokenAlg string) {
	s := startServer(b, func(c *Config) { c.AccessTokenAlg, c.IDTokenAlg = "ES256", idTokenAlg })
	rp := s.client(b, clients.Metadata{TokenEndpointAuthMethod: storage.AuthMethodBasic, Scope: "openid offline_access"})
	rt := rp.login(b, s.browser(), s.user(b, storage.RoleUser), []string{"openid", "offline_access"}, nil).RefreshToken
	b.ReportAllocs()
	for b.Loop() {
		rec := postInProcess(s, rp, provider.PathToken, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode())
		var answer struct {
			RefreshToken string `json:"refresh_token"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &answer) != nil || answer.RefreshToken == "" {
			b.Fatalf("refresh: %d %s", rec.Code, rec.Body)
		}
		rt = answer.RefreshToken
	}
}

// BenchmarkStatic is a GET of the JWKS and of the discovery document
// through latch's whole handler chain in process: routing, telemetry,
// CORS and the handler, whose documents are built once per key change.
func BenchmarkStatic(b *testing.B) {
	s := startServer(b, nil)
	for _, path := range []string{provider.PathJWKS, provider.PathDiscovery} {
		b.Run(strings.TrimPrefix(path, "/"), func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, s.URL+path, nil)
			h := s.Handler()
			b.ReportAllocs()
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("GET %s: %d", path, rec.Code)
				}
			}
		})
	}
}
