package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestAttackHostileInput sends hostile values in every parameter of every
// endpoint, and oversized bodies: no answer is a 500 or shows internal
// details.
func TestAttackHostileInput(t *testing.T) {
	a := startAttack(t)
	s, scopes, public, post := a.s, a.scopes, a.public, a.post

	t.Run("case=hostile input never yields a 500 or internal details", func(t *testing.T) {
		b := s.browser()
		bad := []string{"\x00", "a\x00b", "\xff\xfe", "%", strings.Repeat("x", 10000), "\u202e", "' OR 1=1 --", "../../etc/passwd"}
		for _, v := range bad {
			for _, k := range []string{"client_id", "state", "redirect_uri", "scope", "nonce", "code_challenge", "prompt", "max_age", "login_hint", "request_uri"} {
				ar := public.authURL(scopes, map[string]string{k: v})
				p := b.get(t, ar.URL)
				noLeak(t, "authorize "+k, p.Body)
			}
			for _, k := range []string{"id_token_hint", "client_id", "post_logout_redirect_uri", "state"} {
				p := b.get(t, s.URL+"/oauth2/logout?"+url.Values{k: {v}}.Encode())
				noLeak(t, "logout "+k, p.Body)
			}
			noLeak(t, "resume", b.get(t, s.URL+"/oauth2/auth/resume?"+url.Values{"flow": {v}}.Encode()).Body)
			for name, o := range map[string]postOpt{
				"token client_id":        {form: url.Values{"grant_type": {"authorization_code"}, "code": {v}, "client_id": {v}}},
				"token basic user":       {form: url.Values{"grant_type": {"client_credentials"}}, user: v, pass: v},
				"token code":             {form: url.Values{"grant_type": {"authorization_code"}, "code": {v}, "client_id": {public.client.ID}, "redirect_uri": {v}, "code_verifier": {v}}},
				"token refresh":          {form: url.Values{"grant_type": {"refresh_token"}, "refresh_token": {v}, "client_id": {public.client.ID}}},
				"token client_assertion": {form: url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {v}}},
				"introspect basic user":  {form: url.Values{"token": {v}}, user: v, pass: v},
				"introspect token":       {form: url.Values{"token": {v}, "token_type_hint": {v}}, user: s.rs.client.ID, pass: s.rs.secret},
				"revoke client_id":       {form: url.Values{"token": {v}, "client_id": {v}}},
				"revoke token":           {form: url.Values{"token": {v}, "token_type_hint": {v}, "client_id": {public.client.ID}}},
				"par client_id":          {form: url.Values{"client_id": {v}, "response_type": {"code"}}},
				"par redirect_uri":       {form: url.Values{"client_id": {post.client.ID}, "client_secret": {post.secret}, "response_type": {"code"}, "redirect_uri": {v}}},
				"userinfo access_token":  {form: url.Values{"access_token": {v}}},
			} {
				path := map[string]string{"token": "/oauth2/token", "introspect": "/oauth2/introspect", "revoke": "/oauth2/revoke", "par": "/oauth2/par", "userinfo": "/userinfo"}[strings.Fields(name)[0]]
				req := s.formRequest(t, path, o)
				r := s.send(t, req)
				if r.status >= 500 {
					t.Errorf("%s %q: %d %s", name, v, r.status, r.raw)
				}
				noLeak(t, name, r.raw)
			}
		}
		// Bodies over 64 KiB.
		big := "client_id=" + public.client.ID + "&x=" + strings.Repeat("a", 100<<10)
		for _, path := range []string{"/oauth2/auth", "/oauth2/logout", "/oauth2/par", "/oauth2/revoke", "/oauth2/introspect", "/userinfo"} {
			req := s.request(t, http.MethodPost, path, strings.NewReader(big))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r := s.send(t, req)
			if r.status >= 500 || r.status < 400 {
				t.Errorf("POST %s with a huge body: %d", path, r.status)
			}
			noLeak(t, "huge body at "+path, r.raw)
		}
	})
}
