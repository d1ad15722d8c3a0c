package server

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/latch-idp/latch/storage"
)

// TestAttackPushedRequests plays a hostile client at the pushed
// authorization request endpoint (RFC 9126): no nested request_uri, no
// implicit flow, and a request_uri works once, for its client, with the
// pushed parameters winning over those sent beside it.
func TestAttackPushedRequests(t *testing.T) {
	a := startAttack(t)
	s, scopes, public, other, steps := a.s, a.scopes, a.public, a.other, a.steps

	t.Run("case=pushed requests: no nesting, no implicit, one use, one client", func(t *testing.T) {
		push := func(t *testing.T, rp *relyingParty, params map[string]string) (int, map[string]any) {
			t.Helper()
			u, _ := url.Parse(rp.authURL(scopes, params).URL)
			return s.post(t, "/oauth2/par", rp.auth(u.Query()))
		}
		for name, params := range map[string]map[string]string{
			"request_uri inside":      {"request_uri": "urn:ietf:params:oauth:request_uri:abc"},
			"response_type=token":     {"response_type": "token"},
			"unregistered redirect":   {"redirect_uri": "https://evil.example/cb"},
			"public client, no PKCE":  {"code_challenge": "", "code_challenge_method": ""},
			"response_mode=form_post": {"response_mode": "form_post"},
		} {
			if status, body := push(t, public, params); status != http.StatusBadRequest || oauthError(body) == "" {
				t.Errorf("push with %s: %s, want a 400 error", name, describe(status, body))
			}
		}
		// The pushed parameters win over those sent along with the
		// request_uri; the request_uri works once and for its client.
		u := s.user(t, storage.RoleUser)
		status, body := push(t, public, map[string]string{"scope": "openid", "state": "pushed-state-123"})
		uri := claim(body, "request_uri")
		if status != http.StatusCreated || uri == "" {
			t.Fatalf("push: %s", describe(status, body))
		}
		for _, id := range []string{other.client.ID, ""} {
			q := url.Values{"client_id": {id}, "request_uri": {uri}}
			if p := s.browser().get(t, s.URL+"/oauth2/auth?"+q.Encode()); p.Status != http.StatusBadRequest || p.Location != nil {
				t.Errorf("request_uri with client_id %q: %d Location %v, want a 400 page", id, p.Status, p.Location)
			}
		}
		// The wrong clients did not use it up: its own client still can.
		q := url.Values{"client_id": {public.client.ID}, "request_uri": {uri}, "scope": {"openid email offline_access"},
			"redirect_uri": {"https://evil.example/cb"}, "state": {"attacker-state"}}
		res := s.browser().authorize(t, s.URL+"/oauth2/auth?"+q.Encode(), steps(u))
		cb := res.callbackQuery(t, s, "pushed-state-123")
		if res.Callback.Host == "evil.example" || cb.Get("code") == "" {
			t.Fatalf("pushed request: %s", res.Callback)
		}
		if p := s.browser().get(t, s.URL+"/oauth2/auth?"+url.Values{"client_id": {public.client.ID}, "request_uri": {uri}}.Encode()); p.Status != http.StatusBadRequest || p.Location != nil {
			t.Errorf("a used request_uri: %d Location %v, want a 400 page", p.Status, p.Location)
		}
		for _, bad := range []string{"https://evil.example/req", "urn:ietf:params:oauth:request_uri:nope", uri + "x"} {
			q := url.Values{"client_id": {public.client.ID}, "request_uri": {bad}}
			if p := s.browser().get(t, s.URL+"/oauth2/auth?"+q.Encode()); p.Status != http.StatusBadRequest || p.Location != nil {
				t.Errorf("request_uri %q: %d Location %v, want a 400 page", bad, p.Status, p.Location)
			}
		}
	})
}
