package server

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

// TestDPoPBindsTokens pins RFC 9449 at the token endpoint, userinfo and
// introspection: a proof binds the access token (cnf.jkt, token_type DPoP),
// a bound token works only with the DPoP scheme and a proof of its key, and
// a public client's refresh token only with a proof of the same key.
func TestDPoPBindsTokens(t *testing.T) {
	f := startOIDC(t)
	s := f.s

	t.Run("case=a proof binds the access token and userinfo wants the proof", func(t *testing.T) {
		key := newDPoPKey(t)
		at, _ := s.mustDPoPTokens(t, f.public.dpopLogin(t, s.user(t, storage.RoleUser), key, nil), key)
		if r := s.dpopUserinfo(t, at, key); r.status != http.StatusOK || claim(r.body, "sub") == "" {
			t.Errorf("userinfo with DPoP: %d %s", r.status, r.raw)
		}
		status, body := s.userinfo(t, http.MethodGet, at)
		mustEqual(t, "bound token as Bearer: status", status, http.StatusUnauthorized)
		mustEqual(t, "bound token as Bearer: error", oauthError(body), "invalid_token")
		r := s.dpopUserinfo(t, at, nil)
		mustChallenge(t, "bound token without a proof", r, "invalid_dpop_proof")
		r = s.dpopUserinfo(t, at, key, withATH(at+"x"))
		mustChallenge(t, "wrong ath", r, "invalid_dpop_proof")
		r = s.dpopUserinfo(t, at, newDPoPKey(t))
		mustChallenge(t, "proof of another key", r, "invalid_token")
	})

	t.Run("case=a bound token used as Bearer gets a DPoP challenge", func(t *testing.T) {
		key := newDPoPKey(t)
		at, _ := s.mustDPoPTokens(t, f.public.dpopLogin(t, s.user(t, storage.RoleUser), key, nil), key)
		req := s.request(t, http.MethodGet, "/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+at)
		mustChallenge(t, "Bearer", s.send(t, req), "invalid_token")
	})

	t.Run("case=introspection tells the key of a bound token", func(t *testing.T) {
		key := newDPoPKey(t)
		at, _ := s.mustDPoPTokens(t, f.basic.dpopLogin(t, s.user(t, storage.RoleUser), key, nil), key)
		body := s.introspect(t, at)
		mustEqual(t, "token_type", claim(body, "token_type"), "DPoP")
		cnf, _ := body["cnf"].(map[string]any)
		mustEqual(t, "cnf.jkt", claim(cnf, "jkt"), key.jkt(t))
	})

	t.Run("case=a public client's refresh token needs a proof of the same key", func(t *testing.T) {
		key := newDPoPKey(t)
		_, rt := s.mustDPoPTokens(t, f.public.dpopLogin(t, s.user(t, storage.RoleUser), key, nil), key)
		mustOAuthError(t, "refresh without a proof", f.public.dpopRefresh(t, rt, nil), http.StatusBadRequest, "invalid_dpop_proof")
		mustOAuthError(t, "refresh with another key", f.public.dpopRefresh(t, rt, newDPoPKey(t)), http.StatusBadRequest, "invalid_grant")
		_, rt = s.mustDPoPTokens(t, f.public.dpopRefresh(t, rt, key), key)
		s.mustDPoPTokens(t, f.public.dpopRefresh(t, rt, key), key)
	})

	t.Run("case=a confidential client's refresh token is not bound", func(t *testing.T) {
		key := newDPoPKey(t)
		_, rt := s.mustDPoPTokens(t, f.basic.dpopLogin(t, s.user(t, storage.RoleUser), key, nil), key)
		other := newDPoPKey(t)
		_, rt = s.mustDPoPTokens(t, f.basic.dpopRefresh(t, rt, other), other)
		r := f.basic.dpopRefresh(t, rt, nil)
		if r.status != http.StatusOK || !strings.EqualFold(claim(r.body, "token_type"), "bearer") {
			t.Errorf("refresh without a proof: %d %s, want a bearer token", r.status, r.raw)
		}
		_, claims := s.verifyJWT(t, claim(r.body, "access_token"))
		if _, ok := claims["cnf"]; ok {
			t.Errorf("a bearer token carries cnf %v", claims["cnf"])
		}
	})

	t.Run("case=discovery lists exactly the proof algorithms accepted", func(t *testing.T) {
		mustEqualSlice(t, "dpop_signing_alg_values_supported", toStrings(discovery(t, s)["dpop_signing_alg_values_supported"]), []string{"ES256", "EdDSA", "RS256"})
	})
}

// mustChallenge checks a 401 from userinfo with a DPoP challenge carrying
// the error and the accepted algorithms (RFC 9449 section 7.1).
func mustChallenge(t testing.TB, what string, r rawResponse, code string) {
	t.Helper()
	ch := r.header.Get("WWW-Authenticate")
	if r.status != http.StatusUnauthorized || !strings.HasPrefix(ch, `DPoP error="`+code+`"`) || !strings.Contains(ch, `algs="ES256 EdDSA RS256"`) {
		t.Errorf("%s: %d, WWW-Authenticate %q, want 401 DPoP error=%q with algs", what, r.status, ch, code)
	}
}

// TestDPoPProofRejected pins the checks of a proof at the token endpoint:
// each broken proof is 400 invalid_dpop_proof, and no token is issued.
func TestDPoPProofRejected(t *testing.T) {
	s := startServer(t, nil)
	svc := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "api:read", TokenEndpointAuthMethod: storage.AuthMethodBasic})
	key := newDPoPKey(t)
	tokenURL := s.URL + "/oauth2/token"
	form := url.Values{"grant_type": {"client_credentials"}}
	signed := func(edits ...proofEdit) string { return key.proof(t, http.MethodPost, tokenURL, edits...) }
	unsigned := func(alg string) string {
		p := strings.Split(signed(withHeader("alg", alg)), ".")
		return p[0] + "." + p[1] + "."
	}
	tampered := func() string {
		p := strings.Split(signed(), ".")
		return p[0] + "." + jwtPart(map[string]any{"jti": "x", "htm": "POST", "htu": tokenURL, "iat": time.Now().Unix()}) + "." + p[2]
	}
	cases := map[string]string{
		"wrong htu":            signed(withClaim("htu", s.URL+"/oauth2/revoke")),
		"wrong htm":            signed(withClaim("htm", http.MethodGet)),
		"stale iat":            signed(withClaim("iat", time.Now().Add(-5*time.Minute).Unix())),
		"future iat":           signed(withClaim("iat", time.Now().Add(5*time.Minute).Unix())),
		"no iat":               signed(withClaim("iat", nil)),
		"no jti":               signed(withClaim("jti", nil)),
		"signature of another": tampered(),
		"no signature":         unsigned("ES256"),
		"alg none":             unsigned("none"),
		"alg HS256":            signed(withHeader("alg", "HS256")),
		"private key in jwk":   signed(withHeader("jwk", key.jwk(true))),
		"no jwk":               signed(withHeader("jwk", nil)),
		"typ JWT":              signed(withHeader("typ", "JWT")),
		"not a JWT":            "dpop",
	}
	for name, proof := range cases {
		t.Run("case="+name, func(t *testing.T) {
			mustOAuthError(t, name, svc.dpopTokenRequest(t, form, proof), http.StatusBadRequest, "invalid_dpop_proof")
		})
	}
	t.Run("case=htu is compared without query and fragment", func(t *testing.T) {
		s.mustDPoPTokens(t, svc.dpopTokenRequest(t, form, signed(withClaim("htu", tokenURL+"?x=1#f"))), key)
	})
	t.Run("case=two DPoP headers", func(t *testing.T) {
		req := s.formRequest(t, "/oauth2/token", svc.auth(form))
		req.Header.Add("DPoP", signed())
		req.Header.Add("DPoP", signed())
		mustOAuthError(t, "two headers", s.send(t, req), http.StatusBadRequest, "invalid_dpop_proof")
	})
}

// TestDPoPProofSpentOnce pins a proof's single use at the token endpoint:
// a replay is refused, ten requests racing with one proof get one token,
// and a request that fails client authentication does not use it up.
func TestDPoPProofSpentOnce(t *testing.T) {
	s := startServer(t, nil)
	svc := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: storage.AuthMethodBasic})
	key := newDPoPKey(t)
	form := url.Values{"grant_type": {"client_credentials"}}
	signed := func() string { return key.proof(t, http.MethodPost, s.URL+"/oauth2/token") }
	t.Run("case=a proof works once", func(t *testing.T) {
		proof := signed()
		s.mustDPoPTokens(t, svc.dpopTokenRequest(t, form, proof), key)
		mustOAuthError(t, "replayed proof", svc.dpopTokenRequest(t, form, proof), http.StatusBadRequest, "invalid_dpop_proof")
	})
	t.Run("case=a proof raced by ten requests works once", func(t *testing.T) {
		proof := signed()
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				if svc.dpopTokenRequest(t, form, proof).status == http.StatusOK {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		mustEqual(t, "requests that got a token", wins.Load(), int32(1))
	})
	t.Run("case=a proof is spent only by an authenticated request", func(t *testing.T) {
		proof := signed()
		wrong := *svc
		wrong.secret = "not-the-secret"
		mustOAuthError(t, "wrong secret", wrong.dpopTokenRequest(t, form, proof), http.StatusUnauthorized, "invalid_client")
		s.mustDPoPTokens(t, svc.dpopTokenRequest(t, form, proof), key)
	})
}

// TestDPoPNonce pins server nonces (LATCH_DPOP_NONCE=on): a proof without
// the nonce is answered use_dpop_nonce with a DPoP-Nonce header, at the
// token endpoint and at userinfo, and the same request with a proof
// carrying that nonce succeeds.
func TestDPoPNonce(t *testing.T) {
	s := startServer(t, func(c *Config) { c.DPoPNonce = true })
	svc := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "api:read", TokenEndpointAuthMethod: storage.AuthMethodBasic})
	key := newDPoPKey(t)
	form := url.Values{"grant_type": {"client_credentials"}}
	tokenURL := s.URL + "/oauth2/token"

	r := svc.dpopTokenRequest(t, form, key.proof(t, http.MethodPost, tokenURL))
	mustOAuthError(t, "without a nonce", r, http.StatusBadRequest, "use_dpop_nonce")
	nonce := r.header.Get("DPoP-Nonce")
	if nonce == "" {
		t.Fatal("use_dpop_nonce without a DPoP-Nonce header")
	}
	r = svc.dpopTokenRequest(t, form, key.proof(t, http.MethodPost, tokenURL, withClaim("nonce", nonce+"x")))
	mustOAuthError(t, "with a wrong nonce", r, http.StatusBadRequest, "use_dpop_nonce")
	r = svc.dpopTokenRequest(t, form, key.proof(t, http.MethodPost, tokenURL, withClaim("nonce", nonce)))
	s.mustDPoPTokens(t, r, key)
	if r.header.Get("DPoP-Nonce") == "" {
		t.Error("a successful DPoP response carries no DPoP-Nonce for the next proof")
	}

	// Userinfo asks for the nonce too, with a 401 DPoP challenge.
	spa := s.client(t, clients.Metadata{TokenEndpointAuthMethod: storage.AuthMethodNone, Scope: "openid profile email offline_access"})
	key.nonce = nonce
	at, _ := s.mustDPoPTokens(t, spa.dpopLogin(t, s.user(t, storage.RoleUser), key, nil), key)
	key.nonce = ""
	r = s.dpopUserinfo(t, at, key)
	mustChallenge(t, "userinfo without a nonce", r, "use_dpop_nonce")
	key.nonce = r.header.Get("DPoP-Nonce")
	if r = s.dpopUserinfo(t, at, key); r.status != http.StatusOK {
		t.Errorf("userinfo with the nonce: %d %s", r.status, r.raw)
	}
}

// TestDPoPNonceAtPAR pins server nonces at the pushed authorization
// endpoint: a proof without the nonce is answered use_dpop_nonce with a
// DPoP-Nonce header, and the push with it succeeds and carries the nonce
// for the next proof.
func TestDPoPNonceAtPAR(t *testing.T) {
	s := startServer(t, func(c *Config) { c.DPoPNonce = true })
	rp := s.client(t, clients.Metadata{TokenEndpointAuthMethod: storage.AuthMethodBasic, Scope: "openid"})
	key := newDPoPKey(t)
	push := func() rawResponse {
		req := s.formRequest(t, "/oauth2/par", rp.auth(mustURL(t, rp.authURL([]string{"openid"}, nil).URL).Query()))
		req.Header.Set("DPoP", key.proof(t, http.MethodPost, s.URL+"/oauth2/par"))
		return s.send(t, req)
	}
	r := push()
	mustOAuthError(t, "without a nonce", r, http.StatusBadRequest, "use_dpop_nonce")
	key.nonce = r.header.Get("DPoP-Nonce")
	if r = push(); r.status != http.StatusCreated || r.header.Get("DPoP-Nonce") == "" {
		t.Errorf("with the nonce: %d, DPoP-Nonce %q: %s", r.status, r.header.Get("DPoP-Nonce"), r.raw)
	}
}

// TestDPoPRequiredByClient pins dpop_bound_access_tokens: such a client's
// token request without a proof is refused.
func TestDPoPRequiredByClient(t *testing.T) {
	s := startServer(t, nil)
	svc := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "api:read",
		TokenEndpointAuthMethod: storage.AuthMethodBasic, DPoPBoundAccessTokens: true})
	form := url.Values{"grant_type": {"client_credentials"}}
	mustOAuthError(t, "without a proof", svc.dpopTokenRequest(t, form, ""), http.StatusBadRequest, "invalid_dpop_proof")
	key := newDPoPKey(t)
	s.mustDPoPTokens(t, svc.dpopTokenRequest(t, form, key.proof(t, http.MethodPost, s.URL+"/oauth2/token")), key)
}

// TestDPoPBindsCodes pins dpop_jkt (RFC 9449 section 10): a code requested
// with dpop_jkt, or pushed with a DPoP proof, is redeemed only with a proof
// of that key.
func TestDPoPBindsCodes(t *testing.T) {
	f := startOIDC(t)
	s := f.s

	t.Run("case=dpop_jkt at the authorization endpoint", func(t *testing.T) {
		key := newDPoPKey(t)
		u := s.user(t, storage.RoleUser)
		ar := f.public.authURL(allScopes, map[string]string{"dpop_jkt": key.jkt(t)})
		code := s.browser().authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"}).code(t, s, ar.State)
		mustOAuthError(t, "without a proof", f.public.dpopExchange(t, code, ar, nil), http.StatusBadRequest, "invalid_dpop_proof")
		mustOAuthError(t, "with another key", f.public.dpopExchange(t, code, ar, newDPoPKey(t)), http.StatusBadRequest, "invalid_grant")
		s.mustDPoPTokens(t, f.public.dpopExchange(t, code, ar, key), key)
	})

	t.Run("case=a pushed request with a proof binds the code", func(t *testing.T) {
		key := newDPoPKey(t)
		u := s.user(t, storage.RoleUser)
		ar := f.basic.authURL(allScopes, nil)
		pushed := mustURL(t, ar.URL).Query()
		req := s.formRequest(t, "/oauth2/par", f.basic.auth(pushed))
		req.Header.Set("DPoP", key.proof(t, http.MethodPost, s.URL+"/oauth2/par"))
		r := s.send(t, req)
		if r.status != http.StatusCreated {
			t.Fatalf("PAR: %d %s", r.status, r.raw)
		}
		authURL := s.URL + "/oauth2/auth?" + url.Values{"client_id": {f.basic.client.ID}, "request_uri": {claim(r.body, "request_uri")}}.Encode()
		code := s.browser().authorize(t, authURL, flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"}).code(t, s, ar.State)
		mustOAuthError(t, "with another key", f.basic.dpopExchange(t, code, ar, newDPoPKey(t)), http.StatusBadRequest, "invalid_grant")
		s.mustDPoPTokens(t, f.basic.dpopExchange(t, code, ar, key), key)
	})

	t.Run("case=a pushed dpop_jkt must be the proof's key", func(t *testing.T) {
		key := newDPoPKey(t)
		pushed := mustURL(t, f.basic.authURL(allScopes, map[string]string{"dpop_jkt": newDPoPKey(t).jkt(t)}).URL).Query()
		req := s.formRequest(t, "/oauth2/par", f.basic.auth(pushed))
		req.Header.Set("DPoP", key.proof(t, http.MethodPost, s.URL+"/oauth2/par"))
		mustOAuthError(t, "mismatch", s.send(t, req), http.StatusBadRequest, "invalid_dpop_proof")
	})
}

// TestDPoPAdminAPI pins that the admin API takes a DPoP-bound token with a
// proof for its URL under the issuer, and refuses it as a bearer token.
func TestDPoPAdminAPI(t *testing.T) {
	s := startServer(t, nil)
	svc := s.client(t, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "latch:admin", TokenEndpointAuthMethod: storage.AuthMethodBasic})
	key := newDPoPKey(t)
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"latch:admin"}}
	at, _ := s.mustDPoPTokens(t, svc.dpopTokenRequest(t, form, key.proof(t, http.MethodPost, s.URL+"/oauth2/token")), key)
	call := func(scheme, proof string) rawResponse {
		req := s.request(t, http.MethodGet, "/admin/users", nil)
		req.Header.Set("Authorization", scheme+" "+at)
		if proof != "" {
			req.Header.Set("DPoP", proof)
		}
		return s.send(t, req)
	}
	if r := call("DPoP", key.proof(t, http.MethodGet, s.URL+"/admin/users?page=1", withATH(at))); r.status != http.StatusOK {
		t.Errorf("with its proof: %d %s", r.status, r.raw)
	}
	if r := call("Bearer", ""); r.status != http.StatusUnauthorized || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "DPoP ") {
		t.Errorf("as a bearer token: %d, WWW-Authenticate %q", r.status, r.header.Get("WWW-Authenticate"))
	}
}
