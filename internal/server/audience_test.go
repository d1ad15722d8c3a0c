package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/storage"
)

// The audience tests pin RFC 8707 and RFC 9068 section 3 end to end: which
// API a grant and each access token are for, what scope the token carries,
// and who refuses what.

// otherAPI is a second resource the audience tests register.
const otherAPI = "https://other.example.com/v1"

// startAudience is a server with testAPI and otherAPI, and a confidential
// client that may reach both.
func startAudience(t *testing.T) (*testServer, *relyingParty) {
	t.Helper()
	s := startServer(t, nil)
	s.resource(t, resources.Metadata{Resource: otherAPI, Name: "Other API", Scopes: []string{"other:read"}, AccessTokenTTL: "30s"})
	rp := s.client(t, clients.Metadata{
		ClientName: "API caller", TokenEndpointAuthMethod: storage.AuthMethodBasic,
		Scope: "openid email offline_access api:read api:write other:read",
	})
	return s, rp
}

// withResources adds resource parameters to an authorization request.
func withResources(ar authRequest, ids ...string) authRequest {
	u, _ := url.Parse(ar.URL)
	q := u.Query()
	for _, id := range ids {
		q.Add("resource", id)
	}
	u.RawQuery = q.Encode()
	ar.URL = u.String()
	return ar
}

// loginFor runs the code flow for scopes (and resources) and returns the
// tokens.
func loginFor(t *testing.T, s *testServer, rp *relyingParty, scopes []string, ids ...string) tokens {
	t.Helper()
	ar := withResources(rp.authURL(scopes, nil), ids...)
	res := s.browser().authorize(t, ar.URL, flowSteps{Email: s.user(t, "user").Email, Password: testPassword, Consent: "allow"})
	return rp.exchange(t, res.code(t, s, ar.State), ar)
}

// accessClaims verifies an access token and returns its aud and scope.
func accessClaims(t *testing.T, s *testServer, token string) (aud, scope []string) {
	t.Helper()
	_, c := s.verifyJWT(t, token)
	return audienceOf(c["aud"]), strings.Fields(claim(c, "scope"))
}

func TestAudienceOfTheCodeFlow(t *testing.T) {
	s, rp := startAudience(t)
	userinfo := s.URL + "/userinfo"
	t.Run("case=inferred from the scopes", func(t *testing.T) {
		tok := loginFor(t, s, rp, []string{"openid", "api:read"})
		aud, scope := accessClaims(t, s, tok.AccessToken)
		mustEqualSlice(t, "aud", aud, []string{testAPI, userinfo})
		mustEqualSlice(t, "scope", scope, []string{"openid", "api:read"})
		in := s.introspect(t, tok.AccessToken)
		mustEqualSlice(t, "introspected aud", toStrings(in["aud"]), []string{testAPI, userinfo})
		mustEqual(t, "introspected scope", claim(in, "scope"), "openid api:read")
	})
	t.Run("case=named by the resource parameter, two of them", func(t *testing.T) {
		tok := loginFor(t, s, rp, []string{"openid", "api:read", "other:read"}, testAPI, otherAPI)
		aud, _ := accessClaims(t, s, tok.AccessToken)
		mustEqualSlice(t, "aud", aud, []string{testAPI, otherAPI, userinfo})
		if exp := tok.Extra("expires_in"); exp == nil || exp.(float64) > 30 {
			t.Errorf("expires_in = %v, want at most otherAPI's 30s", exp)
		}
	})
	t.Run("case=without a resource scope, only userinfo", func(t *testing.T) {
		tok := loginFor(t, s, rp, []string{"openid", "email"})
		aud, _ := accessClaims(t, s, tok.AccessToken)
		mustEqualSlice(t, "aud", aud, []string{userinfo})
	})
}

func TestAudienceNarrowedAtTheTokenEndpoint(t *testing.T) {
	s, rp := startAudience(t)
	tok := loginFor(t, s, rp, []string{"openid", "offline_access", "api:read", "other:read"})
	refresh := func(t *testing.T, rt string, ids ...string) (int, map[string]any) {
		t.Helper()
		return rp.tokenRequest(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "resource": ids})
	}
	rt := tok.RefreshToken
	t.Run("case=refresh for one resource carries its scopes only", func(t *testing.T) {
		status, body := refresh(t, rt, otherAPI)
		if status != http.StatusOK {
			t.Fatalf("refresh: %s", describe(status, body))
		}
		rt = claim(body, "refresh_token")
		aud, scope := accessClaims(t, s, claim(body, "access_token"))
		mustEqualSlice(t, "aud", aud, []string{otherAPI, s.URL + "/userinfo"})
		mustEqualSlice(t, "scope", scope, []string{"openid", "offline_access", "other:read"})
		mustEqual(t, "scope in the response", claim(body, "scope"), "openid offline_access other:read")
	})
	t.Run("case=the next refresh gets the whole grant back", func(t *testing.T) {
		status, body := refresh(t, rt)
		if status != http.StatusOK {
			t.Fatalf("refresh: %s", describe(status, body))
		}
		rt = claim(body, "refresh_token")
		aud, _ := accessClaims(t, s, claim(body, "access_token"))
		mustEqualSlice(t, "aud", aud, []string{testAPI, otherAPI, s.URL + "/userinfo"})
	})
	t.Run("case=a resource outside the grant is invalid_target", func(t *testing.T) {
		s.resource(t, resources.Metadata{Resource: "https://third.example.com", Scopes: []string{"third:read"}})
		for _, id := range []string{"https://third.example.com", "https://unknown.example.com", "not a uri"} {
			status, body := refresh(t, rt, id)
			if status != http.StatusBadRequest || oauthError(body) != "invalid_target" {
				t.Errorf("resource %q: %s, want invalid_target", id, describe(status, body))
			}
		}
	})
}

func TestAudienceRefusedAtAuthorization(t *testing.T) {
	s, rp := startAudience(t)
	s.resource(t, resources.Metadata{Resource: "https://unreachable.example.com", Scopes: []string{"unreach:read"}})
	for name, tc := range map[string]struct {
		scopes    []string
		resources []string
		want      string
	}{
		"an unknown resource":                 {[]string{"openid"}, []string{"https://unknown.example.com"}, "invalid_target"},
		"a resource the client cannot reach":  {[]string{"openid"}, []string{"https://unreachable.example.com"}, "invalid_target"},
		"a resource with a fragment":          {[]string{"openid"}, []string{testAPI + "#x"}, "invalid_target"},
		"a scope of a resource not requested": {[]string{"openid", "other:read"}, []string{testAPI}, "invalid_scope"},
		"the audience parameter of fosite":    {[]string{"openid"}, nil, "invalid_request"},
	} {
		t.Run("case="+name, func(t *testing.T) {
			ar := withResources(rp.authURL(tc.scopes, nil), tc.resources...)
			if tc.resources == nil {
				ar = rp.authURL(tc.scopes, map[string]string{"audience": testAPI})
			}
			q := s.browser().authorize(t, ar.URL, flowSteps{}).callbackQuery(t, s, ar.State)
			mustEqual(t, "error", q.Get("error"), tc.want)
		})
	}
}

func TestAudienceOfClientCredentials(t *testing.T) {
	s := startServer(t, nil)
	svc := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "api:read api:write", TokenEndpointAuthMethod: storage.AuthMethodBasic})
	cc := func(t *testing.T, form url.Values) (int, map[string]any) {
		t.Helper()
		form.Set("grant_type", "client_credentials")
		return svc.tokenRequest(t, form)
	}
	t.Run("case=inferred from the scope, then named", func(t *testing.T) {
		for _, form := range []url.Values{{"scope": {"api:read"}}, {"scope": {"api:read"}, "resource": {testAPI}}} {
			status, body := cc(t, form)
			if status != http.StatusOK {
				t.Fatalf("%v: %s", form, describe(status, body))
			}
			aud, scope := accessClaims(t, s, claim(body, "access_token"))
			mustEqualSlice(t, "aud", aud, []string{testAPI})
			mustEqualSlice(t, "scope", scope, []string{"api:read"})
		}
	})
	t.Run("case=no scope is a token for userinfo, which refuses it", func(t *testing.T) {
		status, body := cc(t, url.Values{})
		if status != http.StatusOK {
			t.Fatalf("client_credentials without a scope: %s", describe(status, body))
		}
		aud, _ := accessClaims(t, s, claim(body, "access_token"))
		mustEqualSlice(t, "aud", aud, []string{s.URL + "/userinfo"})
		if status, body = s.userinfo(t, http.MethodGet, claim(body, "access_token")); status != http.StatusUnauthorized && status != http.StatusForbidden {
			t.Fatalf("userinfo with a client's token: %s", describe(status, body))
		}
	})
	t.Run("case=refused targets and scopes", func(t *testing.T) {
		s.resource(t, resources.Metadata{Resource: "https://unreachable.example.com", Scopes: []string{"unreach:read"}})
		for _, form := range []url.Values{
			{"resource": {"https://unknown.example.com"}},
			{"resource": {"https://unreachable.example.com"}},
			{"resource": {"http://api.example.com"}},
		} {
			if status, body := cc(t, form); status != http.StatusBadRequest || oauthError(body) != "invalid_target" {
				t.Errorf("%v: %s, want invalid_target", form, describe(status, body))
			}
		}
		if status, body := cc(t, url.Values{"audience": {testAPI}}); status != http.StatusBadRequest || oauthError(body) != "invalid_request" {
			t.Errorf("audience parameter: %s, want invalid_request", describe(status, body))
		}
	})
}

func TestAudienceAtUserinfoAndConsent(t *testing.T) {
	s, rp := startAudience(t)
	t.Run("case=a token without openid is not for userinfo", func(t *testing.T) {
		tok := loginFor(t, s, rp, []string{"api:read"})
		aud, _ := accessClaims(t, s, tok.AccessToken)
		mustEqualSlice(t, "aud", aud, []string{testAPI})
		if status, body := s.userinfo(t, http.MethodGet, tok.AccessToken); status != http.StatusForbidden && status != http.StatusUnauthorized {
			t.Fatalf("userinfo: %s", describe(status, body))
		}
	})
	t.Run("case=the consent page names the APIs", func(t *testing.T) {
		ar := rp.authURL([]string{"openid", "api:read", "other:read"}, nil)
		res := s.browser().authorize(t, ar.URL, flowSteps{Email: s.user(t, "user").Email, Password: testPassword})
		if !res.SawConsent || !strings.Contains(res.Last.Body, "Test API") || !strings.Contains(res.Last.Body, "Other API") {
			t.Fatalf("consent page does not name both APIs:\n%s", res.Last.Body)
		}
	})
	t.Run("case=a deleted resource leaves the next refresh", func(t *testing.T) {
		s.resource(t, resources.Metadata{Resource: "https://gone.example.com", Scopes: []string{"gone:read"}})
		gone := s.client(t, clients.Metadata{TokenEndpointAuthMethod: storage.AuthMethodBasic, Scope: "openid offline_access api:read gone:read"})
		tok := loginFor(t, s, gone, []string{"openid", "offline_access", "api:read", "gone:read"})
		if err := s.store.DeleteResource(t.Context(), "https://gone.example.com", storage.Effects{}); err != nil {
			t.Fatal(err)
		}
		s.Server.provider.ResourcesChanged()
		status, body := gone.refresh(t, tok.RefreshToken)
		if status != http.StatusOK {
			t.Fatalf("refresh: %s", describe(status, body))
		}
		aud, scope := accessClaims(t, s, claim(body, "access_token"))
		mustEqualSlice(t, "aud", aud, []string{testAPI, s.URL + "/userinfo"})
		mustEqualSlice(t, "scope", scope, []string{"openid", "offline_access", "api:read"})
	})
}

func TestAudienceOfPushedRequests(t *testing.T) {
	s, rp := startAudience(t)
	push := func(t *testing.T, ids ...string) (int, map[string]any) {
		t.Helper()
		form := url.Values{"response_type": {"code"}, "redirect_uri": {rp.client.RedirectURIs[0]}, "scope": {"openid api:read"},
			"state": {randString(12)}, "code_challenge": {randString(43)}, "code_challenge_method": {"S256"}, "resource": ids}
		return s.post(t, "/oauth2/par", rp.auth(form))
	}
	if status, body := push(t, testAPI); status != http.StatusCreated {
		t.Fatalf("push with a known resource: %s", describe(status, body))
	}
	for _, id := range []string{"https://unknown.example.com", otherAPI} {
		status, body := push(t, id)
		want := "invalid_target"
		if id == otherAPI {
			want = "invalid_scope" // api:read belongs to testAPI, which was not named
		}
		if status != http.StatusBadRequest || oauthError(body) != want {
			t.Errorf("push with %s: %s, want %s", id, describe(status, body), want)
		}
	}
}
