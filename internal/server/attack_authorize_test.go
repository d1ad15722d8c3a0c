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

// TestAttackAuthorizeErrors plays a sloppy or hostile client at the
// authorization endpoint: every error redirect carries state and iss in the
// query, an untrusted redirect_uri or client gets an error page and never a
// redirect, and repeated parameters are invalid_request.
func TestAttackAuthorizeErrors(t *testing.T) {
	a := startAttack(t)
	s, scopes, public, other := a.s, a.scopes, a.public, a.other

	t.Run("case=every error redirect carries state and iss, in the query", func(t *testing.T) {
		// Errors found before login redirect at once, the others after
		// it; fosite refuses a few before it trusts the redirect URI, with
		// an error page. Either way no code, and a redirect carries the
		// request's state and iss (RFC 9207) in the query.
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		host := mustURL(t, public.conf.RedirectURL).Host
		for name, params := range map[string]map[string]string{
			"implicit":                {"response_type": "token"},
			"hybrid":                  {"response_type": "code id_token"},
			"fragment response mode":  {"response_mode": "fragment"},
			"form_post response mode": {"response_mode": "form_post"},
			"unregistered scope":      {"scope": "openid admin"},
			"plain PKCE":              {"code_challenge_method": "plain"},
			"no PKCE, public client":  {"code_challenge": "", "code_challenge_method": ""},
			"prompt=none, no session": {"prompt": "none"},
			"prompt=none and login":   {"prompt": "none login"},
			"unknown prompt":          {"prompt": "select_account"},
			"audience":                {"audience": "https://api.evil.example"},
			"request object":          {"request": "eyJhbGciOiJub25lIn0.e30."},
			"registration":            {"registration": "{}"},
			"short nonce":             {"nonce": "n"},
			"short state":             {"state": "s"},
		} {
			ar := public.authURL(scopes, params)
			if params["state"] != "" {
				ar.State = params["state"]
			}
			res := b.authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword, Consent: "deny"})
			if res.Callback == nil {
				if res.Last.Status != http.StatusBadRequest || res.SawLogin {
					t.Errorf("%s: stopped at %s %d, want an error page or an error redirect", name, res.Last.URL, res.Last.Status)
				}
				continue
			}
			q := res.Callback.Query()
			if res.Callback.Host != host || q.Get("error") == "" || q.Get("code") != "" || res.Callback.Fragment != "" {
				t.Errorf("%s: %s, want an error in the query of the client's redirect URI, and no code", name, res.Callback)
			}
			mustEqual(t, name+": state", q.Get("state"), ar.State)
			mustEqual(t, name+": iss", q.Get("iss"), s.URL)
		}
	})

	t.Run("case=an untrusted redirect_uri or unknown client gets an error page", func(t *testing.T) {
		b := s.browser()
		reg := public.conf.RedirectURL // https://<id>.example.com/callback
		for _, uri := range []string{
			"https://evil.example.com/callback",
			reg + "/", reg + "?a=b", reg + "#x", reg + "%2F..", reg + "/../callback",
			strings.Replace(reg, "/callback", "/Callback", 1),
			strings.Replace(reg, "https://", "https://user@", 1),
			strings.Replace(reg, ".example.com", ".example.com.evil.example", 1),
			strings.Replace(reg, ".example.com/", ".example.com:8443/", 1),
			" " + reg, reg + "%00", "//evil.example.com/callback", "javascript:alert(1)",
		} {
			p := b.get(t, public.authURL(scopes, map[string]string{"redirect_uri": uri}).URL)
			if p.Status != http.StatusBadRequest || p.Location != nil {
				t.Errorf("redirect_uri %q: %d Location %v, want a 400 page", uri, p.Status, p.Location)
			}
			noLeak(t, "redirect_uri "+uri, p.Body)
		}
		for _, id := range []string{"no-such-client", public.client.ID + " ", strings.ToUpper(public.client.ID)} {
			p := b.get(t, public.authURL(scopes, map[string]string{"client_id": id}).URL)
			if p.Status != http.StatusBadRequest || p.Location != nil {
				t.Errorf("client_id %q with a valid-looking redirect_uri: %d Location %v, want a 400 page", id, p.Status, p.Location)
			}
		}
	})

	t.Run("case=repeated authorization parameters are invalid_request", func(t *testing.T) {
		// RFC 6749 sections 3.1 and 4.1.2.1.
		b := s.browser()
		for _, k := range []string{"scope", "state", "code_challenge", "prompt", "nonce", "response_type", "max_age"} {
			ar := public.authURL(scopes, map[string]string{"max_age": "3600"})
			u := mustURL(t, ar.URL)
			q := u.Query()
			v := q.Get(k)
			switch k {
			case "scope":
				v = "openid"
			case "prompt":
				v = "login"
			}
			q[k] = []string{v, v}
			u.RawQuery = q.Encode()
			p := b.get(t, u.String())
			if p.Location == nil || p.Location.Query().Get("error") != "invalid_request" {
				t.Errorf("%s twice: %d Location %v, want error=invalid_request", k, p.Status, p.Location)
			}
		}
		for _, k := range []string{"client_id", "redirect_uri"} {
			ar := public.authURL(scopes, nil)
			u := mustURL(t, ar.URL)
			q := u.Query()
			if k == "client_id" {
				q.Add(k, other.client.ID)
			} else {
				q.Add(k, "https://evil.example/cb")
			}
			u.RawQuery = q.Encode()
			p := b.get(t, u.String())
			if p.Location != nil && p.Location.Query().Get("code") != "" || p.Location != nil && p.Location.Query().Get("error") == "" {
				t.Errorf("%s twice: %d Location %v, want an error", k, p.Status, p.Location)
			}
		}
	})
}

// TestAttackFlowState plays an attacker against a flow in progress:
// parameters added when it resumes change nothing, another browser can
// neither resume it nor see its consent page, and max_age=0 asks for the
// password again.
func TestAttackFlowState(t *testing.T) {
	a := startAttack(t)
	s, scopes, basic, post, steps := a.s, a.scopes, a.basic, a.post, a.steps

	t.Run("case=parameters added at resume change nothing", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		ar := basic.authURL([]string{"openid"}, nil)
		res := b.authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword})
		if !res.SawConsent {
			t.Fatalf("no consent page: %s %d", res.Last.URL, res.Last.Status)
		}
		p := b.submit(t, res.Last.formWith(t, "decision"), nil, [2]string{"decision", "allow"})
		if p.Location == nil || p.Location.Path != "/oauth2/auth/resume" {
			t.Fatalf("consent: %d Location %v, want the resume endpoint", p.Status, p.Location)
		}
		resume := *p.Location
		// POST is no way in.
		if r := b.post(t, resume.String(), url.Values{"scope": {"openid email offline_access"}}); r.Status != http.StatusMethodNotAllowed && r.Location != nil {
			t.Errorf("POST to resume: %d Location %v", r.Status, r.Location)
		}
		// Another browser, signed in as someone else, cannot finish it.
		intruder := s.browser()
		basic.login(t, intruder, s.user(t, storage.RoleUser), []string{"openid"}, nil)
		if r := intruder.get(t, resume.String()); r.Location != nil || r.Status != http.StatusBadRequest {
			t.Errorf("resume from another browser: %d Location %v, want a 400 page", r.Status, r.Location)
		}
		if r := s.browser().get(t, resume.String()); r.Location != nil || r.Status != http.StatusBadRequest {
			t.Errorf("resume from a browser without a session: %d Location %v, want a 400 page", r.Status, r.Location)
		}
		q := resume.Query()
		for k, v := range map[string]string{
			"scope": "openid email offline_access", "redirect_uri": "https://evil.example/cb", "client_id": post.client.ID,
			"state": "attacker-state", "response_type": "token", "code_challenge": challengeOf(authRequest{Verifier: oauth2.GenerateVerifier()}),
		} {
			q.Add(k, v)
		}
		smuggled := resume
		smuggled.RawQuery = q.Encode() + "&flow=another"
		p = b.get(t, smuggled.String())
		if p.Location == nil || p.Location.Host != mustURL(t, basic.conf.RedirectURL).Host {
			t.Fatalf("smuggled resume: %d Location %v", p.Status, p.Location)
		}
		code := flowResult{Callback: p.Location}.code(t, s, ar.State)
		out := basic.exchange(t, code, ar)
		if out.Claims["email"] != nil || out.RefreshToken != "" {
			t.Errorf("smuggled scopes were granted: %v, refresh token %t", out.Claims, out.RefreshToken != "")
		}
		// Replayed after the code was issued: an error page.
		if r := b.get(t, resume.String()); r.Location != nil || r.Status != http.StatusBadRequest {
			t.Errorf("replayed resume: %d Location %v, want a 400 page", r.Status, r.Location)
		}
	})

	t.Run("case=a consent page of another browser's flow is refused", func(t *testing.T) {
		victim, attacker := s.user(t, storage.RoleUser), s.user(t, storage.RoleUser)
		b := s.browser()
		ar := post.authURL(scopes, nil)
		res := b.authorize(t, ar.URL, flowSteps{Email: victim.Email, Password: testPassword})
		if !res.SawConsent {
			t.Fatalf("no consent page: %s", res.Last.URL)
		}
		intruder := s.browser()
		post.login(t, intruder, attacker, []string{"openid"}, nil)
		if p := intruder.get(t, res.Last.URL.String()); p.Status != http.StatusForbidden && p.Status != http.StatusBadRequest {
			t.Errorf("another browser's consent page: %d, want refused", p.Status)
		}
	})

	t.Run("case=max_age=0 asks for the password again", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		first := basic.login(t, b, u, scopes, nil)
		ar := basic.authURL(scopes, map[string]string{"max_age": "0"})
		res := b.authorize(t, ar.URL, steps(u))
		if !res.SawLogin {
			t.Error("max_age=0 did not ask for the password")
		}
		tok := basic.exchange(t, res.code(t, s, ar.State), ar)
		if tok.Claims["auth_time"].(float64) < first.Claims["auth_time"].(float64) {
			t.Errorf("auth_time went back: %v < %v", tok.Claims["auth_time"], first.Claims["auth_time"])
		}
	})
}

// TestAttackLoopbackRedirectScheme pins #11's weakness 8: the any-port
// exception of RFC 8252 section 7.3 is for http loopback registrations; a
// client registered with https on a loopback address gets no plain-http
// redirect on another port, and the user an error page, not a redirect.
func TestAttackLoopbackRedirectScheme(t *testing.T) {
	s := startServer(t, nil)
	httpsApp := s.client(t, clients.Metadata{TokenEndpointAuthMethod: "none", RedirectURIs: []string{"https://127.0.0.1/cb"}})
	httpApp := s.client(t, clients.Metadata{TokenEndpointAuthMethod: "none", RedirectURIs: []string{"http://127.0.0.1/cb"}})
	ar := httpsApp.authURL([]string{"openid"}, map[string]string{"redirect_uri": "http://127.0.0.1:5000/cb"})
	if p := s.browser().get(t, ar.URL); p.Status != http.StatusBadRequest || p.Location != nil {
		t.Fatalf("https registration, http redirect on another port: %d %v", p.Status, p.Location)
	}
	ar = httpApp.authURL([]string{"openid"}, map[string]string{"redirect_uri": "http://127.0.0.1:5000/cb"})
	res := s.browser().authorize(t, ar.URL, flowSteps{Email: s.user(t, "user").Email, Password: testPassword, Consent: "allow"})
	if res.Callback == nil || res.Callback.Host != "127.0.0.1:5000" {
		t.Fatalf("http loopback registration, another port: %v", res.Callback)
	}
}

// TestAttackRequestObjects pins #11's weakness 7 for request objects: latch
// serves none, so a request parameter, signed or not, is refused at the
// authorization and PAR endpoints and its parameters never apply.
func TestAttackRequestObjects(t *testing.T) {
	s := startServer(t, nil)
	rp := s.client(t, clients.Metadata{TokenEndpointAuthMethod: "client_secret_basic", Scope: "openid email"})
	unsigned := b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(`{"scope":"openid email","redirect_uri":"https://evil.example/cb"}`)) + "."
	ar := rp.authURL([]string{"openid"}, map[string]string{"request": unsigned})
	if p := s.browser().get(t, ar.URL); p.Status != http.StatusBadRequest || p.Location != nil || !strings.Contains(p.Body, "not supported") {
		t.Fatalf("authorization with a request object: %d %v", p.Status, p.Location)
	}
	u, _ := url.Parse(ar.URL)
	if status, body := s.post(t, "/oauth2/par", rp.auth(u.Query())); status != http.StatusBadRequest || oauthError(body) != "request_not_supported" {
		t.Fatalf("PAR with a request object: %s", describe(status, body))
	}
	if d := discovery(t, s); d["request_parameter_supported"] != false {
		t.Fatalf("discovery: request_parameter_supported = %v", d["request_parameter_supported"])
	}
}
