package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

// TestAuthorizationCodeFlow drives the code flow end to end over HTTP,
// through the real login and consent pages, with x/oauth2 and go-oidc as the
// relying party: every way of client authentication gets tokens, errors
// found before login redirect with iss, and prompt and max_age decide
// whether the user is asked to log in.
func TestAuthorizationCodeFlow(t *testing.T) {
	f := startOIDC(t)
	s, public, basic, post := f.s, f.public, f.basic, f.post

	for _, rp := range []*relyingParty{public, basic, post} {
		t.Run("case=code flow with PKCE, client auth "+rp.client.TokenEndpointAuthMethod, func(t *testing.T) {
			u := s.user(t, storage.RoleUser)
			b := s.browser()
			ar := rp.authURL(allScopes, nil)
			res := b.authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"})
			if !res.SawLogin || !res.SawConsent {
				t.Errorf("login page shown %v, consent page shown %v; want both for a third-party client", res.SawLogin, res.SawConsent)
			}
			tok := rp.exchange(t, res.code(t, s, ar.State), ar)
			if tok.IDToken == nil || tok.AccessToken == "" || tok.RefreshToken == "" {
				t.Fatalf("tokens: id %v, access %q, refresh %q", tok.IDToken != nil, tok.AccessToken, tok.RefreshToken)
			}
			mustEqual(t, "token_type", strings.ToLower(tok.TokenType), "bearer")
			mustEqual(t, "ID token subject", tok.IDToken.Subject, u.ID)
			if !s.active(t, tok.AccessToken) {
				t.Error("fresh access token introspects inactive")
			}
		})
	}

	t.Run("case=authorization errors redirect with iss", func(t *testing.T) {
		b := s.browser()
		// Errors the request shows before anyone logs in.
		for name, params := range map[string]map[string]string{
			"unknown scope":                 {"scope": "openid admin:everything"},
			"response_type=token":           {"response_type": "token"},
			"response_type=code id_token":   {"response_type": "code id_token"},
			"response_mode=fragment":        {"response_mode": "fragment"},
			"prompt=none without a session": {"prompt": "none"},
		} {
			ar := public.authURL(allScopes, params)
			res := b.authorize(t, ar.URL, flowSteps{})
			q := res.callbackQuery(t, s, ar.State)
			if q.Get("error") == "" || q.Get("code") != "" {
				t.Errorf("%s: callback %s, want an error and no code", name, res.Callback)
			}
		}
	})

	t.Run("case=prompt=none", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		ar := public.authURL(allScopes, map[string]string{"prompt": "none"})
		res := b.authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"})
		if q := res.callbackQuery(t, s, ar.State); q.Get("error") != "login_required" || res.SawLogin {
			t.Errorf("without a session: %s (login page shown %v), want error=login_required", res.Callback, res.SawLogin)
		}

		public.login(t, b, u, []string{"openid", "profile"}, nil)
		ar = public.authURL([]string{"openid", "profile"}, map[string]string{"prompt": "none"})
		res = b.authorize(t, ar.URL, flowSteps{})
		public.exchange(t, res.code(t, s, ar.State), ar)

		ar = public.authURL(allScopes, map[string]string{"prompt": "none"})
		res = b.authorize(t, ar.URL, flowSteps{})
		if q := res.callbackQuery(t, s, ar.State); q.Get("error") != "consent_required" {
			t.Errorf("with a session, new scopes: %s, want error=consent_required", res.Callback)
		}
	})

	t.Run("case=prompt=login and max_age force a new login", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		first := basic.login(t, b, u, allScopes, nil)
		steps := flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"}

		for name, c := range map[string]struct {
			params    map[string]string
			wantLogin bool
		}{
			"no prompt":       {nil, false},
			"prompt=login":    {map[string]string{"prompt": "login"}, true},
			"max_age=0":       {map[string]string{"max_age": "0"}, true},
			"max_age=3600":    {map[string]string{"max_age": "3600"}, false},
			"prompt=consent":  {map[string]string{"prompt": "consent"}, false},
			"max_age=invalid": {map[string]string{"max_age": "-1"}, false},
		} {
			ar := basic.authURL(allScopes, c.params)
			res := b.authorize(t, ar.URL, steps)
			if res.SawLogin != c.wantLogin {
				t.Errorf("%s: login page shown %v, want %v", name, res.SawLogin, c.wantLogin)
			}
			if res.Callback == nil {
				t.Errorf("%s: stopped at %s %d", name, res.Last.URL, res.Last.Status)
				continue
			}
			tok := basic.exchange(t, res.code(t, s, ar.State), ar)
			authTime, _ := tok.Claims["auth_time"].(float64)
			if authTime < first.Claims["auth_time"].(float64) {
				t.Errorf("%s: auth_time went back", name)
			}
			if c.params["prompt"] == "consent" && !res.SawConsent {
				t.Errorf("prompt=consent: no consent page")
			}
		}
	})
}

// TestAuthorizationRequestChecks pins what an authorization request must get
// right before any code is issued: PKCE with S256, bound to the code; a
// registered redirect_uri, matched exactly, or an error page and never a
// redirect; a known client.
func TestAuthorizationRequestChecks(t *testing.T) {
	f := startOIDC(t)
	s, public, basic, post := f.s, f.public, f.basic, f.post

	t.Run("case=PKCE is S256 only, required for public clients, and bound to the code", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		steps := flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"}
		for name, params := range map[string]map[string]string{
			"missing for a public client": {"code_challenge": "", "code_challenge_method": ""},
			"plain":                       {"code_challenge_method": "plain", "code_challenge": strings.Repeat("a", 43)},
			"unknown method":              {"code_challenge_method": "S512"},
			"method without challenge":    {"code_challenge": ""},
			"challenge without method":    {"code_challenge_method": ""},
		} {
			ar := public.authURL(allScopes, params)
			res := b.authorize(t, ar.URL, steps)
			q := res.callbackQuery(t, s, ar.State)
			if q.Get("code") != "" || q.Get("error") != "invalid_request" {
				t.Errorf("PKCE %s: callback %s, want error=invalid_request and no code", name, res.Callback)
			}
			if res.SawLogin {
				t.Errorf("PKCE %s: the user was asked to log in before the error", name)
			}
		}

		for name, c := range map[string]struct {
			rp       *relyingParty
			verifier func(ar authRequest) string
		}{
			"wrong verifier":                         {public, func(authRequest) string { return oauth2.GenerateVerifier() }},
			"started with PKCE, finished without it": {basic, func(authRequest) string { return "" }},
			"challenge as verifier":                  {post, challengeOf},
		} {
			ar := c.rp.authURL(allScopes, nil)
			code := b.authorize(t, ar.URL, steps).code(t, s, ar.State)
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.rp.conf.RedirectURL}}
			if v := c.verifier(ar); v != "" {
				form.Set("code_verifier", v)
			}
			status, body := c.rp.tokenRequest(t, form)
			if status != http.StatusBadRequest || oauthError(body) != "invalid_grant" {
				t.Errorf("%s: %s, want 400 invalid_grant", name, describe(status, body))
			}
		}

		// A flow started without PKCE cannot be finished with a verifier.
		ar := basic.authURL(allScopes, map[string]string{"code_challenge": "", "code_challenge_method": ""})
		code := b.authorize(t, ar.URL, steps).code(t, s, ar.State)
		status, body := basic.tokenRequest(t, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {basic.conf.RedirectURL}, "code_verifier": {oauth2.GenerateVerifier()}})
		if status != http.StatusBadRequest || oauthError(body) != "invalid_grant" {
			t.Errorf("verifier without challenge: %s, want 400 invalid_grant", describe(status, body))
		}
	})

	t.Run("case=wrong redirect_uri gets an error page, never a redirect", func(t *testing.T) {
		b := s.browser()
		reg := public.conf.RedirectURL
		for _, uri := range []string{
			"https://evil.example.com/callback",
			reg + "/",
			reg + "?x=1",
			strings.ToUpper(reg[:8]) + reg[8:],
			strings.Replace(reg, "https://", "http://", 1),
		} {
			ar := public.authURL(allScopes, map[string]string{"redirect_uri": uri})
			p := b.get(t, ar.URL)
			if p.Status != http.StatusBadRequest || p.Location != nil {
				t.Errorf("redirect_uri %q: %d Location %v, want a 400 page", uri, p.Status, p.Location)
			}
		}

		// The code is bound to the redirect URI it was issued for.
		u := s.user(t, storage.RoleUser)
		two := s.client(t, clients.Metadata{
			TokenEndpointAuthMethod: storage.AuthMethodNone, Scope: "openid",
			RedirectURIs: []string{"https://two.example.com/a", "https://two.example.com/b"},
		})
		ar := two.authURL([]string{"openid"}, nil)
		code := b.authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"}).code(t, s, ar.State)
		status, body := two.tokenRequest(t, url.Values{"grant_type": {"authorization_code"}, "code": {code},
			"redirect_uri": {"https://two.example.com/b"}, "code_verifier": {ar.Verifier}})
		if status != http.StatusBadRequest || oauthError(body) != "invalid_grant" {
			t.Errorf("exchange with another redirect_uri: %s, want 400 invalid_grant", describe(status, body))
		}
	})

	t.Run("case=unknown client", func(t *testing.T) {
		ar := public.authURL(allScopes, map[string]string{"client_id": "no-such-client"})
		p := s.browser().get(t, ar.URL)
		if p.Status != http.StatusBadRequest || p.Location != nil {
			t.Errorf("authorize: %d Location %v, want a 400 page", p.Status, p.Location)
		}
		status, body := s.post(t, "/oauth2/token", postOpt{form: url.Values{"grant_type": {"client_credentials"}}, user: "no-such-client", pass: "x"})
		if status != http.StatusUnauthorized || oauthError(body) != "invalid_client" {
			t.Errorf("token: %s, want 401 invalid_client", describe(status, body))
		}
	})
}

// TestNativeAppLoopbackRedirect pins RFC 8252 section 7.3: a native app
// registers a loopback redirect URI without a port and may use any port at
// run time; everything else about the URI must still match exactly.
func TestNativeAppLoopbackRedirect(t *testing.T) {
	s := startServer(t, nil)
	u := s.user(t, "user")
	rp := s.client(t, clients.Metadata{
		RedirectURIs: []string{"http://127.0.0.1/callback"}, Scope: "openid",
		TokenEndpointAuthMethod: "none", FirstParty: true,
	})
	t.Run("case=any port on the registered loopback URI", func(t *testing.T) {
		ar := rp.authURL([]string{"openid"}, map[string]string{"redirect_uri": "http://127.0.0.1:51234/callback"})
		res := s.browser().authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword})
		if res.Callback == nil || res.Callback.Host != "127.0.0.1:51234" {
			t.Fatalf("want a redirect to the app's port, got %v", res.Callback)
		}
		conf := *rp.conf
		conf.RedirectURL = "http://127.0.0.1:51234/callback"
		rp2 := *rp
		rp2.conf = &conf
		rp2.exchange(t, res.code(t, s, ar.State), ar)
	})
	for name, redirect := range map[string]string{
		"another path":     "http://127.0.0.1:51234/other",
		"localhost":        "http://localhost:51234/callback",
		"another host":     "http://127.0.0.2:51234/callback",
		"https":            "https://127.0.0.1:51234/callback",
		"an added query":   "http://127.0.0.1:51234/callback?x=1",
		"a user info part": "http://evil@127.0.0.1:51234/callback",
	} {
		t.Run("case=refused: "+name, func(t *testing.T) {
			ar := rp.authURL([]string{"openid"}, map[string]string{"redirect_uri": redirect})
			p := s.browser().get(t, ar.URL)
			if p.Status != http.StatusBadRequest || p.Location != nil {
				t.Fatalf("%s: want an error page, got %d %v", redirect, p.Status, p.Location)
			}
		})
	}
}

// TestNativeAppLocalhostRedirect pins that localhost gets the same any-port
// exception as the loopback addresses, and no more.
func TestNativeAppLocalhostRedirect(t *testing.T) {
	s := startServer(t, nil)
	u := s.user(t, "user")
	rp := s.client(t, clients.Metadata{
		RedirectURIs: []string{"http://localhost/callback"}, Scope: "openid",
		TokenEndpointAuthMethod: "none", FirstParty: true,
	})
	ar := rp.authURL([]string{"openid"}, map[string]string{"redirect_uri": "http://localhost:51234/callback"})
	res := s.browser().authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword})
	if res.Callback == nil || res.Callback.Host != "localhost:51234" {
		t.Fatalf("want a redirect to the app's port, got %v", res.Callback)
	}
	conf := *rp.conf
	conf.RedirectURL = "http://localhost:51234/callback"
	rp2 := *rp
	rp2.conf = &conf
	rp2.exchange(t, res.code(t, s, ar.State), ar)
	for name, redirect := range map[string]string{
		"another host": "http://localhost.evil.example:51234/callback",
		"https":        "https://localhost:51234/callback",
		"another path": "http://localhost:51234/other",
		"127.0.0.1":    "http://127.0.0.1:51234/callback",
	} {
		ar := rp.authURL([]string{"openid"}, map[string]string{"redirect_uri": redirect})
		if p := s.browser().get(t, ar.URL); p.Status != http.StatusBadRequest || p.Location != nil {
			t.Errorf("%s: want an error page, got %d %v", name, p.Status, p.Location)
		}
	}
}
