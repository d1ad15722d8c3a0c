package server

import (
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
// process (no network, no HTTP parsing), as rp, and checks for a 200
// whose body contains want.
func serveForm(b *testing.B, s *testServer, rp *relyingParty, path string, form url.Values, want string) {
	h := s.Handler()
	body := form.Encode()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(url.QueryEscape(rp.client.ID), url.QueryEscape(rp.secret))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
			b.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body)
		}
	}
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
