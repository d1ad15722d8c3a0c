package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latch-idp/latch/clients"
)

// TestPushedAuthorizationRequests covers RFC 9126: a client pushes its
// authorization request, then sends the browser with only client_id and the
// request_uri; the request_uri works once, for that client only.
func TestPushedAuthorizationRequests(t *testing.T) {
	s := startServer(t, nil)
	u := s.user(t, "user")
	rp := s.client(t, clients.Metadata{Scope: "openid email", TokenEndpointAuthMethod: "client_secret_post", FirstParty: true})
	other := s.client(t, clients.Metadata{Scope: "openid", FirstParty: true})

	push := func(t *testing.T, rp *relyingParty, ar authRequest) (int, map[string]any) {
		t.Helper()
		u, _ := url.Parse(ar.URL)
		form := u.Query()
		form.Set("client_secret", rp.secret)
		return s.post(t, "/oauth2/par", postOpt{form: form})
	}

	t.Run("case=discovery advertises the endpoint", func(t *testing.T) {
		b := s.browser()
		p := b.get(t, s.URL+"/.well-known/openid-configuration")
		if !strings.Contains(p.Body, `"pushed_authorization_request_endpoint":"`+s.URL+`/oauth2/par"`) {
			t.Fatalf("discovery: %s", p.Body)
		}
	})
	t.Run("case=push, then authorize with the request_uri", func(t *testing.T) {
		ar := rp.authURL([]string{"openid", "email"}, nil)
		status, body := push(t, rp, ar)
		uri, _ := body["request_uri"].(string)
		if status != http.StatusCreated || !strings.HasPrefix(uri, "urn:ietf:params:oauth:request_uri:") || body["expires_in"] == nil {
			t.Fatalf("push: %d %v", status, body)
		}
		stored := s.rdb.Get(t.Context(), "latch:par:"+uri).Val()
		if stored == "" || strings.Contains(stored, rp.secret) {
			t.Fatal("the pushed request is kept without the client's secret")
		}
		authURL := s.URL + "/oauth2/auth?" + url.Values{"client_id": {rp.client.ID}, "request_uri": {uri}}.Encode()
		res := s.browser().authorize(t, authURL, flowSteps{Email: u.Email, Password: testPassword})
		tok := rp.exchange(t, res.code(t, s, ar.State), ar)
		if claim(tok.Claims, "email") != u.Email {
			t.Fatalf("claims: %v", tok.Claims)
		}

		// Used once.
		p := s.browser().get(t, authURL)
		if p.Status != http.StatusBadRequest || p.Location != nil {
			t.Fatalf("a used request_uri must get an error page, got %d %v", p.Status, p.Location)
		}
	})
	t.Run("case=a request_uri of another client is refused", func(t *testing.T) {
		ar := rp.authURL([]string{"openid"}, nil)
		_, body := push(t, rp, ar)
		uri, _ := body["request_uri"].(string)
		p := s.browser().get(t, s.URL+"/oauth2/auth?"+url.Values{"client_id": {other.client.ID}, "request_uri": {uri}}.Encode())
		if p.Status != http.StatusBadRequest || p.Location != nil {
			t.Fatalf("got %d %v", p.Status, p.Location)
		}
	})
	t.Run("case=an unknown request_uri gets an error page", func(t *testing.T) {
		p := s.browser().get(t, s.URL+"/oauth2/auth?client_id="+rp.client.ID+"&request_uri=urn:ietf:params:oauth:request_uri:nope")
		if p.Status != http.StatusBadRequest || p.Location != nil {
			t.Fatalf("got %d %v", p.Status, p.Location)
		}
	})
	t.Run("case=the push needs client authentication and a valid request", func(t *testing.T) {
		ar := rp.authURL([]string{"openid"}, nil)
		u, _ := url.Parse(ar.URL)
		form := u.Query()
		form.Set("client_secret", "wrong")
		if status, body := s.post(t, "/oauth2/par", postOpt{form: form}); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Fatalf("wrong secret: %d %v", status, body)
		}
		form.Set("client_secret", rp.secret)
		form.Set("redirect_uri", "https://evil.example/cb")
		if status, body := s.post(t, "/oauth2/par", postOpt{form: form}); status != http.StatusBadRequest {
			t.Fatalf("unregistered redirect_uri: %d %v", status, body)
		}
		form.Set("redirect_uri", rp.client.RedirectURIs[0])
		form.Set("code_challenge_method", "plain")
		if status, body := s.post(t, "/oauth2/par", postOpt{form: form}); status != http.StatusBadRequest || body["error"] != "invalid_request" {
			t.Fatalf("plain PKCE: %d %v", status, body)
		}
	})
}
