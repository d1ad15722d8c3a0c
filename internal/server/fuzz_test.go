package server

// Fuzz targets for what latch reads from the network: the protocol
// endpoints' forms and queries, the tokens and JWTs it is handed, and the
// registration endpoint's JSON. Each target starts one latch as the other
// tests do and sends every input to it over HTTP. The invariant is the same
// everywhere: no 5xx, no ERROR log line, nothing internal in the answer,
// and a refusal is a clear 4xx (an RFC 6749 JSON error on the JSON
// endpoints). `make test` runs the seeds; `make fuzz` runs each target for
// a while (scripts/fuzz.sh).

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

// fuzzSuite is the server a fuzz target sends its inputs to, with a
// client of each kind and a user who has signed in once.
type fuzzSuite struct {
	*attackSuite
	user     storage.User
	login    tokens // the user's tokens, through the public client
	key      *ecdsa.PrivateKey
	keyed    *relyingParty // private_key_jwt, ES256, key "k1"
	adminTok string        // a latch:admin client_credentials token
}

func startFuzz(f *testing.F) *fuzzSuite {
	f.Helper()
	a := startAttack(f)
	s := &fuzzSuite{attackSuite: a, user: a.s.user(f, storage.RoleUser)}
	s.login = a.public.login(f, a.s.browser(), s.user, a.scopes, nil)
	s.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &s.key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	s.keyed = a.s.client(f, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "api:read",
		TokenEndpointAuthMethod: storage.AuthMethodPrivateKeyJWT, JWKS: set, TokenEndpointAuthSigningAlg: "ES256"})
	admin := a.s.client(f, clients.Metadata{GrantTypes: []string{"client_credentials"}, Scope: "latch:admin", TokenEndpointAuthMethod: storage.AuthMethodBasic})
	s.adminTok = ccToken(f, admin, "latch:admin")
	return s
}

// basic is the Authorization header of rp's client_secret_basic.
func basic(rp *relyingParty) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(rp.client.ID)+":"+url.QueryEscape(rp.secret)))
}

// noRedirects is a client that shows latch's redirects instead of
// following them to hosts that do not exist.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// answer sends req and checks the invariant common to every endpoint: no
// 5xx, no ERROR log line, nothing internal in the answer.
func (s *fuzzSuite) answer(t *testing.T, req *http.Request) rawResponse {
	t.Helper()
	mark := s.s.logs.Len()
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := rawResponse{status: resp.StatusCode, header: resp.Header, raw: string(b), body: map[string]any{}}
	_ = json.Unmarshal(b, &r.body)
	if r.status >= 500 {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL.Path, r.status, r.raw)
	}
	noLeak(t, req.URL.Path, r.raw)
	if logs := s.s.logs.Since(mark); strings.Contains(logs, "level=ERROR") {
		t.Fatalf("%s %s logged an error:\n%s", req.Method, req.URL.Path, logs)
	}
	return r
}

// jsonAnswer is answer for a JSON endpoint: a success, or an RFC 6749
// error in JSON.
func (s *fuzzSuite) jsonAnswer(t *testing.T, req *http.Request) rawResponse {
	t.Helper()
	r := s.answer(t, req)
	if r.status >= 400 {
		checkJSONError(t, req.URL.Path, r, "")
	}
	return r
}

// pageAnswer is answer for a browser endpoint: a redirect to a URL, a
// page, or an error page.
func (s *fuzzSuite) pageAnswer(t *testing.T, req *http.Request) rawResponse {
	t.Helper()
	r := s.answer(t, req)
	switch {
	case r.status >= 300 && r.status < 400:
		if _, err := url.Parse(r.header.Get("Location")); err != nil || r.header.Get("Location") == "" {
			t.Fatalf("%s: %d with Location %q", req.URL.Path, r.status, r.header.Get("Location"))
		}
	case r.status >= 400 && strings.TrimSpace(r.raw) == "":
		t.Fatalf("%s: %d with an empty page", req.URL.Path, r.status)
	}
	return r
}

// validHeader reports whether v can be sent as a header value at all.
func validHeader(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// formRequest is a POST of a raw form body with an Authorization header
// ("" for none).
func (s *fuzzSuite) formRequest(t *testing.T, path, body, authorization string) *http.Request {
	req := s.s.request(t, http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	return req
}

// fuzzForm fuzzes a JSON endpoint that takes a form: seeds are a body and
// an Authorization header each.
func fuzzForm(f *testing.F, path string, seeds func(s *fuzzSuite) [][2]string) {
	s := startFuzz(f)
	for _, sd := range seeds(s) {
		f.Add(sd[0], sd[1])
	}
	f.Fuzz(func(t *testing.T, body, authorization string) {
		if !validHeader(authorization) {
			return
		}
		s.jsonAnswer(t, s.formRequest(t, path, body, authorization))
	})
}

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// commonForms are bodies every form endpoint gets as seeds: hostile
// encodings, repeated and empty parameters.
func commonForms(s *fuzzSuite) [][2]string {
	return [][2]string{
		{"", ""}, {"%", "Basic %%%"}, {"a=%zz&&=&token=\x00", "Bearer x"}, {"client_id=" + s.public.client.ID + "&client_id=x", ""},
		{"token=" + strings.Repeat("A", 5000), "Basic " + base64.StdEncoding.EncodeToString([]byte("\xff:\x00"))},
		{"client_id=" + s.basic.client.ID + "&client_secret=" + s.basic.secret, basic(s.basic)},
		{"client_assertion_type=" + assertionType + "&client_assertion=e30.e30.&client_id=" + s.keyed.client.ID, ""},
	}
}

func FuzzTokenForm(f *testing.F) {
	fuzzForm(f, "/oauth2/token", func(s *fuzzSuite) [][2]string {
		return append(commonForms(s),
			[2]string{"grant_type=client_credentials&scope=api:read", basic(s.service)},
			[2]string{"grant_type=client_credentials&scope=api:read+openid&resource=https://x", basic(s.service)},
			[2]string{"grant_type=refresh_token&refresh_token=" + s.login.RefreshToken + "&client_id=" + s.public.client.ID, ""},
			[2]string{"grant_type=authorization_code&code=x.y&redirect_uri=https://a/&code_verifier=~&client_id=" + s.public.client.ID, ""},
			[2]string{"grant_type=password&username=a&password=b", basic(s.basic)},
			[2]string{"grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=" + s.login.RawIDToken, basic(s.basic)},
		)
	})
}

func FuzzPARForm(f *testing.F) {
	fuzzForm(f, "/oauth2/par", func(s *fuzzSuite) [][2]string {
		q := mustURL(f, s.basic.authURL(s.scopes, nil).URL).RawQuery
		return append(commonForms(s),
			[2]string{q, basic(s.basic)},
			[2]string{q + "&request_uri=urn:ietf:params:oauth:request_uri:x", basic(s.basic)},
			[2]string{q + "&request=e30.e30.", basic(s.basic)},
			[2]string{q + "&redirect_uri=http://127.0.0.1:1/x&code_challenge_method=plain", basic(s.basic)},
		)
	})
}

func FuzzRevocationForm(f *testing.F) {
	fuzzForm(f, "/oauth2/revoke", func(s *fuzzSuite) [][2]string {
		return append(commonForms(s),
			[2]string{"token=" + s.login.AccessToken + "&token_type_hint=access_token&client_id=" + s.other.client.ID, ""},
			[2]string{"token=" + s.login.RefreshToken + "&token_type_hint=bogus", basic(s.basic)},
		)
	})
}

func FuzzIntrospectionForm(f *testing.F) {
	fuzzForm(f, "/oauth2/introspect", func(s *fuzzSuite) [][2]string {
		return append(commonForms(s),
			[2]string{"token=" + s.login.AccessToken, basic(s.s.rs)},
			[2]string{"token=" + s.login.RefreshToken + "&token_type_hint=refresh_token", basic(s.basic)},
			[2]string{"token=" + s.login.AccessToken, "Bearer " + s.adminTok},
		)
	})
}

// FuzzAuthorizeQuery sends query strings to the authorization endpoint,
// from a browser without a session: the answer is a redirect (to the
// login page, or the client's error), or an error page.
func FuzzAuthorizeQuery(f *testing.F) {
	s := startFuzz(f)
	ar := s.public.authURL(s.scopes, nil)
	q := mustURL(f, ar.URL).RawQuery
	for _, seed := range []string{
		q, q + "&prompt=none", q + "&max_age=-1&prompt=login+consent", q + "&code_challenge_method=plain",
		q + "&redirect_uri=https://evil.example/cb", q + "&response_mode=fragment&response_type=token",
		q + "&request=eyJhbGciOiJub25lIn0.e30.", q + "&request_uri=urn:ietf:params:oauth:request_uri:abc",
		q + "&resource=https://api.example.com&resource=%zz", q + "&id_token_hint=" + s.login.RawIDToken,
		"", "client_id=%00", "client_id=" + s.public.client.ID + "&client_id=" + s.other.client.ID,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, query string) {
		if strings.ContainsFunc(query, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '#' }) {
			return // no client sends these in a request line
		}
		req := s.s.request(t, http.MethodGet, "/oauth2/auth", nil)
		req.URL.RawQuery = query
		s.pageAnswer(t, req)
	})
}

// FuzzCodeVerifier presents a code with PKCE verifiers: only the verifier
// of the challenge gets tokens, and only once; anything else is a 400
// RFC 6749 error.
func FuzzCodeVerifier(f *testing.F) {
	s := startFuzz(f)
	code, ar := s.codeOf(f, s.public, s.s.browser(), s.user, nil)
	f.Add("")
	f.Add(strings.Repeat("a", 43))
	f.Add(strings.Repeat("~", 129))
	f.Add(ar.Verifier[:42])
	f.Add(ar.Verifier + "=")
	f.Add(challengeOf(ar))
	f.Fuzz(func(t *testing.T, verifier string) {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {s.public.conf.RedirectURL},
			"client_id": {s.public.client.ID}, "code_verifier": {verifier}}
		r := s.jsonAnswer(t, s.formRequest(t, "/oauth2/token", form.Encode(), ""))
		if r.status < 400 && verifier != ar.Verifier {
			t.Fatalf("verifier %q for challenge %q got tokens: %s", verifier, challengeOf(ar), r.raw)
		}
	})
}

// FuzzBearerToken sends Authorization headers to userinfo and to the
// admin API: an RFC 6750 or RFC 9449 refusal (400, 401 or 403 with
// WWW-Authenticate) unless the token is good.
func FuzzBearerToken(f *testing.F) {
	s := startFuzz(f)
	for _, seed := range []string{
		"Bearer " + s.login.AccessToken, "Bearer " + s.adminTok, "bearer " + s.login.AccessToken, "Bearer " + s.login.RawIDToken,
		"Bearer " + s.login.RefreshToken, "Bearer", "Bearer  ", "Basic " + s.adminTok, "Bearer eyJhbGciOiJub25lIn0.e30.",
		"Bearer " + s.adminTok[:len(s.adminTok)-2], "DPoP " + s.adminTok, "DPoP", "dpop " + s.login.AccessToken, "Bearer a.b.c.d.e",
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, authorization string, admin bool) {
		if !validHeader(authorization) {
			return
		}
		path := "/userinfo"
		if admin {
			path = "/admin/users"
		}
		req := s.s.request(t, http.MethodGet, path, nil)
		req.Header.Set("Authorization", authorization)
		r := s.answer(t, req)
		// A token sent with the DPoP scheme is refused with a DPoP
		// challenge (RFC 9449 section 7.1), any other with a Bearer one.
		scheme := "Bearer"
		if sent, _, _ := strings.Cut(authorization, " "); strings.EqualFold(sent, "DPoP") {
			scheme = "DPoP"
		}
		if r.status >= 400 && (r.status > 403 || r.status == 402 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), scheme+" ")) {
			t.Fatalf("%s with %q: %d, WWW-Authenticate %q: %s", path, authorization, r.status, r.header.Get("WWW-Authenticate"), r.raw)
		}
	})
}

// jws builds a compact JWS from a raw header and payload, signed with key
// (ES256) or, with key nil, with an empty signature.
func jws(key *ecdsa.PrivateKey, header, payload []byte) string {
	in := b64(header) + "." + b64(payload)
	if key == nil {
		return in + "."
	}
	sum := sha256.Sum256([]byte(in))
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		panic(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return in + "." + b64(sig)
}

// jwtSeeds are header and claim sets for the JWT targets: one good, the
// rest each wrong in one way.
func jwtSeeds(f *testing.F, iss, sub, aud string, good map[string]any) {
	now := time.Now().Unix()
	h := []byte(`{"alg":"ES256","kid":"k1","typ":"JWT"}`)
	claims := func(edit map[string]any) []byte {
		c := map[string]any{"iss": iss, "sub": sub, "aud": aud, "jti": randString(16), "iat": now, "exp": now + 60}
		for k, v := range good {
			c[k] = v
		}
		for k, v := range edit {
			if v == nil {
				delete(c, k)
			} else {
				c[k] = v
			}
		}
		b, _ := json.Marshal(c)
		return b
	}
	f.Add(h, claims(nil), true)
	f.Add([]byte(`{"alg":"none"}`), claims(nil), false)
	f.Add([]byte(`{"alg":"HS256","kid":"k1"}`), claims(nil), true)
	f.Add([]byte(`{"alg":"ES256","kid":"other","crit":["b64"],"b64":false}`), claims(nil), true)
	f.Add([]byte(`{"alg":"ES256","jwk":{"kty":"EC"}}`), claims(nil), true)
	f.Add(h, claims(map[string]any{"iat": now + 3600}), true)
	f.Add(h, claims(map[string]any{"nbf": 1e300, "exp": -1}), true)
	f.Add(h, claims(map[string]any{"exp": "soon", "iat": []int{1}}), true)
	f.Add(h, claims(map[string]any{"aud": []any{aud, "https://evil.example"}, "iss": 7}), true)
	f.Add(h, claims(map[string]any{"sub": nil, "jti": nil, "exp": nil}), true)
	f.Add(h, []byte(`[]`), true)
	f.Add([]byte(`{`), []byte(`{}`), false)
}

// FuzzClientAssertion authenticates a private_key_jwt client with
// assertions signed by its own key, whose header and claims are fuzzed:
// the token endpoint answers 200 or invalid_client-style 4xx, never 500.
func FuzzClientAssertion(f *testing.F) {
	s := startFuzz(f)
	id := s.keyed.client.ID
	jwtSeeds(f, id, id, s.s.URL+"/oauth2/token", nil)
	f.Fuzz(func(t *testing.T, header, claims []byte, signed bool) {
		key := s.key
		if !signed {
			key = nil
		}
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}, "client_id": {id},
			"client_assertion_type": {assertionType}, "client_assertion": {jws(key, header, claims)}}
		s.jsonAnswer(t, s.formRequest(t, "/oauth2/token", form.Encode(), ""))
	})
}

// FuzzRequestObject sends request objects to the authorization endpoint,
// which does not take them: the answer is an error, at the client or on a
// page, never tokens or a sign-in.
func FuzzRequestObject(f *testing.F) {
	s := startFuzz(f)
	base := mustURL(f, s.public.authURL(s.scopes, nil).URL).RawQuery
	jwtSeeds(f, s.public.client.ID, s.public.client.ID, s.s.URL, map[string]any{"client_id": s.public.client.ID,
		"response_type": "code", "redirect_uri": "https://evil.example/cb", "scope": "openid"})
	f.Fuzz(func(t *testing.T, header, claims []byte, signed bool) {
		key := s.key
		if !signed {
			key = nil
		}
		q, _ := url.ParseQuery(base)
		q.Set("request", jws(key, header, claims))
		req := s.s.request(t, http.MethodGet, "/oauth2/auth?"+q.Encode(), nil)
		r := s.pageAnswer(t, req)
		if loc := r.header.Get("Location"); r.status < 400 && !strings.Contains(loc, "error=") {
			t.Fatalf("a request object was not refused: %d to %q", r.status, loc)
		}
	})
}

// FuzzIDTokenHint sends logout requests with ID token hints and
// post-logout redirect URIs: the answer is a redirect only to a registered
// post-logout URI or to latch itself, else a page.
func FuzzIDTokenHint(f *testing.F) {
	s := startFuzz(f)
	registered := s.public.client.PostLogoutRedirectURIs[0]
	raw := s.login.RawIDToken
	parts := strings.Split(raw, ".")
	for _, seed := range [][2]string{
		{raw, registered}, {raw, "https://evil.example/"}, {raw, registered + "?x=1"}, {"", registered},
		{parts[0] + "." + parts[1] + ".", registered}, {parts[0] + ".e30." + parts[2], registered},
		{"eyJhbGciOiJub25lIn0." + parts[1] + ".", registered}, {raw + raw, ""}, {"a.b.c", "javascript:alert(1)"},
	} {
		f.Add(seed[0], seed[1], "st")
	}
	f.Fuzz(func(t *testing.T, hint, redirect, state string) {
		q := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {redirect}, "state": {state}}
		r := s.pageAnswer(t, s.s.request(t, http.MethodGet, "/oauth2/logout?"+q.Encode(), nil))
		if r.status < 300 || r.status >= 400 {
			return
		}
		loc := mustURL(t, r.header.Get("Location"))
		loc.RawQuery = ""
		if got := loc.String(); got != registered && loc.Host != "" && !strings.HasPrefix(got, s.s.URL+"/") {
			t.Fatalf("logout redirected to %q", r.header.Get("Location"))
		}
	})
}

// FuzzClientRegistration sends client metadata JSON to open dynamic
// client registration (RFC 7591): 201, or a 400 with the RFC 7591 error.
func FuzzClientRegistration(f *testing.F) {
	s := &fuzzSuite{attackSuite: &attackSuite{s: startRegistration(f, "open")}}
	for _, seed := range []string{
		`{"redirect_uris":["https://app.example.com/cb"],"token_endpoint_auth_method":"none"}`,
		`{"redirect_uris":["http://127.0.0.1/cb"],"grant_types":["authorization_code","refresh_token"],"scope":"openid offline_access"}`,
		`{"grant_types":["client_credentials"],"scope":"latch:admin"}`,
		`{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}}`,
		`{"redirect_uris":["https://a.example/cb"],"jwks_uri":"https://127.0.0.1/jwks","token_endpoint_auth_method":"private_key_jwt"}`,
		`{"redirect_uris":["javascript:x"],"client_id":"admin","first_party":true,"client_secret":"s"}`,
		`{"redirect_uris":"https://a.example/cb"}`, `[]`, `null`, `{"a":1}{"b":2}`, "\xff",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := s.s.request(t, http.MethodPost, "/oauth2/register", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		r := s.jsonAnswer(t, req)
		if r.status >= 300 && r.status != http.StatusBadRequest && r.status != http.StatusTooManyRequests {
			t.Fatalf("registration answered %d: %s", r.status, r.raw)
		}
	})
}
