package server

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

// TestUserinfo pins the userinfo endpoint: GET and POST with a bearer token
// (or the token in the form), claims by scope, go-oidc reads it, and
// anything but a user's valid access token gets 401 with a Bearer challenge
// (403 for a client's own token).
func TestUserinfo(t *testing.T) {
	f := startOIDC(t)
	s, basic, service := f.s, f.basic, f.service

	t.Run("case=userinfo GET and POST with bearer", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		tok := basic.login(t, b, u, []string{"openid", "email"}, nil)
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			status, c := s.userinfo(t, method, tok.AccessToken)
			if status != http.StatusOK {
				t.Fatalf("%s userinfo: %s", method, describe(status, c))
			}
			mustEqual(t, method+" sub", claim(c, "sub"), u.ID)
			mustEqual(t, method+" email", claim(c, "email"), u.Email)
			mustEqual(t, method+" email_verified", c["email_verified"], any(true))
			if _, ok := c["name"]; ok {
				t.Errorf("%s: name released without the profile scope", method)
			}
		}
		// The access token in a POST body (RFC 6750 section 2.2).
		status, c := s.post(t, "/userinfo", postOpt{form: url.Values{"access_token": {tok.AccessToken}}})
		if status != http.StatusOK || claim(c, "sub") != u.ID {
			t.Errorf("userinfo with form token: %s", describe(status, c))
		}

		tok = basic.login(t, b, u, []string{"openid", "profile"}, nil)
		_, c = s.userinfo(t, http.MethodGet, tok.AccessToken)
		if claim(c, "name") == "" || claim(c, "email") != "" {
			t.Errorf("profile scope: %v, want name and no email", c)
		}
		// go-oidc reads it too.
		info, err := s.oidcProvider(t).UserInfo(t.Context(), oauth2.StaticTokenSource(tok.Token))
		if err != nil || info.Subject != u.ID {
			t.Errorf("go-oidc userinfo: %v %v", err, info)
		}

		// A token without a user (client_credentials) gets no claims.
		_, cc := s.rsToken(t, service)
		if status, body := s.userinfo(t, http.MethodGet, cc); status != http.StatusForbidden && status != http.StatusUnauthorized {
			t.Errorf("userinfo with a client's token: %s, want 401 or 403", describe(status, body))
		}

		parts := strings.Split(tok.AccessToken, ".")
		unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"at+jwt"}`)) + "." + parts[1] + "."
		for name, token := range map[string]string{
			"garbage": "not-a-token", "altered": tok.AccessToken[:len(tok.AccessToken)-4] + "AAAA", "none": "",
			"alg none": unsigned, "ID token": tok.RawIDToken,
		} {
			req := s.request(t, http.MethodGet, "/userinfo", nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp := s.send(t, req)
			if resp.status != http.StatusUnauthorized || !strings.HasPrefix(resp.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s token: %d WWW-Authenticate %q, want 401 with a Bearer challenge", name, resp.status, resp.header.Get("WWW-Authenticate"))
			}
			if token != "" && !strings.Contains(resp.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
				t.Errorf("%s token: WWW-Authenticate %q lacks invalid_token", name, resp.header.Get("WWW-Authenticate"))
			}
		}
	})
}

// TestUserinfoRefusesTokensInTheURL pins RFC 9700 section 4.3.2 (#11,
// weakness 10): a token in the query string is refused, even a valid one.
func TestUserinfoRefusesTokensInTheURL(t *testing.T) {
	s := startServer(t, nil)
	rp := s.client(t, clients.Metadata{Scope: "openid", TokenEndpointAuthMethod: "client_secret_basic"})
	tok := rp.login(t, s.browser(), s.user(t, "user"), []string{"openid"}, nil).AccessToken
	status, body := s.doJSON(t, s.request(t, http.MethodGet, "/userinfo?access_token="+tok, nil))
	if status != http.StatusBadRequest || oauthError(body) != "invalid_request" {
		t.Fatalf("token in the URL: %s", describe(status, body))
	}
	if status, _ := s.userinfo(t, http.MethodGet, tok); status != http.StatusOK {
		t.Fatalf("the same token in the header: %d", status)
	}
}
