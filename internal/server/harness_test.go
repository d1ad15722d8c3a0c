package server

// The harness of the end-to-end tests: a latch built by New exactly as
// `latch serve` builds it, on a PostgreSQL database and a Redis database of
// its own, behind httptest; a browser with a cookie jar that walks the real
// login and consent pages; and relying parties built on golang.org/x/oauth2
// and go-oidc.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"github.com/pquerna/otp/totp"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/mfa"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/postgres"
)

// testPassword is every test user's password.
const testPassword = "correct horse battery staple"

// testServer is one running latch.
type testServer struct {
	*Server
	URL    string
	cfg    *Config
	box    *secret.Box
	hasher *password.Hasher
	out    *syncBuffer // what latch prints: emails among it
	logs   *syncBuffer

	once     sync.Once
	provider *oidc.Provider
	// rs authenticates at introspection, as a resource server does.
	rs *relyingParty
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testConfig is a production configuration with cheap password hashing and
// no network dependencies besides PostgreSQL and Redis.
func testConfig(t *testing.T) *Config {
	return &Config{
		DatabaseURL:        testenv.PostgresURL(t),
		RedisURL:           testenv.RedisURL(t),
		Secrets:            [][]byte{[]byte("end-to-end-test-secret-" + randString(24))},
		AccessTokenTTL:     15 * time.Minute,
		RefreshTokenTTL:    720 * time.Hour,
		RefreshIdleTTL:     168 * time.Hour,
		IDTokenTTL:         time.Hour,
		RefreshReuse:       "family",
		IDTokenAlg:         "RS256",
		AccessTokenAlg:     "RS256",
		SessionIdleTTL:     24 * time.Hour,
		SessionTTL:         336 * time.Hour,
		HIBP:               false,
		HIBPFailOpen:       true,
		PasswordMinLength:  8,
		Argon2Memory:       1024,
		Argon2Iterations:   1,
		Argon2Parallelism:  1,
		HashConcurrency:    4,
		HashWait:           2 * time.Second,
		LoginLimitAccount:  50,
		LoginLimitIP:       1000,
		LoginLimitWindow:   15 * time.Minute,
		SMTPFrom:           "latch <no-reply@localhost>",
		Registration:       "open",
		LogLevel:           "info",
		RefreshGracePeriod: 0,
	}
}

// startServer builds a latch with New and serves it. mutate may
// change the configuration first.
func startServer(t *testing.T, mutate func(*Config)) *testServer {
	t.Helper()
	c := testConfig(t)
	if mutate != nil {
		mutate(c)
	}
	hs := httptest.NewUnstartedServer(nil)
	c.Issuer = "http://" + hs.Listener.Addr().String()
	ts := &testServer{URL: c.Issuer, cfg: c, out: &syncBuffer{}, logs: &syncBuffer{}}
	log := slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := New(t.Context(), *c, ts.out, log)
	if err != nil {
		hs.Close()
		t.Fatalf("New: %v", err)
	}
	ts.Server = srv
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(func() {
		hs.Close()
		srv.Close()
		if t.Failed() {
			logs := ts.logs.String()
			if len(logs) > 16<<10 {
				logs = "…" + logs[len(logs)-16<<10:]
			}
			t.Logf("server log:\n%s", logs)
		}
	})
	ts.box, err = secret.New(c.Secrets...)
	if err != nil {
		t.Fatal(err)
	}
	ts.hasher = password.NewHasher(password.Params{Memory: 1024, Iterations: 1, Parallelism: 1}, 4, 2*time.Second)
	ts.rs = ts.client(t, clients.Metadata{
		ClientName: "Resource Server", GrantTypes: []string{"client_credentials"},
		Scope: "api:read", TokenEndpointAuthMethod: storage.AuthMethodBasic,
	})
	return ts
}

func randString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// user creates a user with testPassword and a verified email.
func (s *testServer) user(t *testing.T, role string) storage.User {
	t.Helper()
	ctx := t.Context()
	hash, err := s.hasher.Hash(ctx, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.store.CreateUser(ctx, storage.User{
		Email: "u-" + strings.ToLower(randString(9)) + "@example.com", Name: "Test User",
		Role: role, PasswordHash: hash, EmailVerified: true,
	}, storage.Effects{})
	if err != nil {
		t.Fatalf("create user: %v", err)
	}
	return u
}

// enableTOTP gives the user a confirmed TOTP secret and returns it.
func (s *testServer) enableTOTP(t *testing.T, userID string) string {
	t.Helper()
	m := mfa.NewTOTP(s.rdb, s.box, "latch")
	en, err := m.Generate("user")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.store.UpdateUser(t.Context(), userID, storage.Effects{}, func(u *storage.User) error {
		u.TOTPSecret = m.Seal(userID, en.Secret)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return en.Secret
}

// oidcProvider is go-oidc's view of latch, from discovery.
func (s *testServer) oidcProvider(t *testing.T) *oidc.Provider {
	t.Helper()
	var err error
	// Not t.Context(): the provider (and its key set) outlives this subtest.
	s.once.Do(func() { s.provider, err = oidc.NewProvider(context.Background(), s.URL) })
	if err != nil {
		t.Fatalf("go-oidc discovery: %v", err)
	}
	if s.provider == nil {
		t.Fatal("go-oidc discovery failed earlier")
	}
	return s.provider
}

// relyingParty is a registered client and the x/oauth2 configuration that
// uses it.
type relyingParty struct {
	s        *testServer
	client   storage.Client
	secret   string
	conf     *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// client registers a client from metadata (redirect URI and ID are
// filled in when missing).
func (s *testServer) client(t *testing.T, m clients.Metadata) *relyingParty {
	t.Helper()
	if m.ClientID == "" {
		m.ClientID = "c-" + randString(9)
	}
	if m.GrantTypes == nil {
		m.GrantTypes = []string{"authorization_code", "refresh_token"}
	}
	code := false
	for _, g := range m.GrantTypes {
		code = code || g == "authorization_code"
	}
	if code && m.RedirectURIs == nil {
		m.RedirectURIs = []string{"https://" + strings.ToLower(m.ClientID) + ".example.com/callback"}
	}
	c, sec, err := clients.New(m, s.box)
	if err != nil {
		t.Fatalf("clients.New: %v", err)
	}
	if err := s.store.CreateClient(t.Context(), c); err != nil {
		t.Fatalf("create client: %v", err)
	}
	rp := &relyingParty{s: s, client: c, secret: sec}
	style := oauth2.AuthStyleInParams
	if c.TokenEndpointAuthMethod == storage.AuthMethodBasic {
		style = oauth2.AuthStyleInHeader
	}
	rp.conf = &oauth2.Config{
		ClientID: c.ID, ClientSecret: sec, Scopes: c.Scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL: s.URL + "/oauth2/auth", TokenURL: s.URL + "/oauth2/token", AuthStyle: style,
		},
	}
	if len(c.RedirectURIs) > 0 {
		rp.conf.RedirectURL = c.RedirectURIs[0]
	}
	return rp
}

// idVerifier is go-oidc's ID token verifier for the client.
func (rp *relyingParty) idVerifier(t *testing.T) *oidc.IDTokenVerifier {
	t.Helper()
	if rp.verifier == nil {
		rp.verifier = rp.s.oidcProvider(t).Verifier(&oidc.Config{ClientID: rp.client.ID})
	}
	return rp.verifier
}

// authRequest is one authorization request of a relying party.
type authRequest struct {
	URL      string
	State    string
	Nonce    string
	Verifier string // "" when the request carries no PKCE
}

// authURL builds an authorization request with state, nonce and S256 PKCE;
// params override or add parameters (an empty value removes one).
func (rp *relyingParty) authURL(scopes []string, params map[string]string) authRequest {
	ar := authRequest{State: randString(12), Nonce: randString(12), Verifier: oauth2.GenerateVerifier()}
	conf := *rp.conf
	conf.Scopes = scopes
	u, _ := url.Parse(conf.AuthCodeURL(ar.State, oauth2.S256ChallengeOption(ar.Verifier), oauth2.SetAuthURLParam("nonce", ar.Nonce)))
	q := u.Query()
	for k, v := range params {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	if q.Get("code_challenge") == "" {
		ar.Verifier = ""
	}
	u.RawQuery = q.Encode()
	ar.URL = u.String()
	return ar
}

// tokens are the result of a completed code flow.
type tokens struct {
	*oauth2.Token
	IDToken    *oidc.IDToken
	RawIDToken string
	Claims     map[string]any // of the ID token
}

// login runs the whole code flow in b as user, consenting when asked, and
// exchanges the code. It checks what every relying party checks: state,
// iss (RFC 9207), the ID token with go-oidc, its nonce and at_hash.
func (rp *relyingParty) login(t *testing.T, b *browser, u storage.User, scopes []string, params map[string]string) tokens {
	t.Helper()
	ar := rp.authURL(scopes, params)
	res := b.authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"})
	code := res.code(t, rp.s, ar.State)
	return rp.exchange(t, code, ar)
}

// exchange trades a code for tokens with x/oauth2 and verifies the ID
// token when there is one.
func (rp *relyingParty) exchange(t *testing.T, code string, ar authRequest) tokens {
	t.Helper()
	var opts []oauth2.AuthCodeOption
	if ar.Verifier != "" {
		opts = append(opts, oauth2.VerifierOption(ar.Verifier))
	}
	tok, err := rp.conf.Exchange(t.Context(), code, opts...)
	if err != nil {
		t.Fatalf("exchange code: %v", err)
	}
	out := tokens{Token: tok}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return out
	}
	out.RawIDToken = raw
	idt, err := rp.idVerifier(t).Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("go-oidc rejects the ID token: %v", err)
	}
	if idt.Nonce != ar.Nonce {
		t.Fatalf("ID token nonce = %q, want %q", idt.Nonce, ar.Nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("ID token at_hash does not match the access token: %v", err)
	}
	out.IDToken = idt
	if err := idt.Claims(&out.Claims); err != nil {
		t.Fatal(err)
	}
	return out
}

// tokenRequest posts form to the token endpoint, authenticated as the
// client's registration says, and returns the status and JSON body.
func (rp *relyingParty) tokenRequest(t *testing.T, form url.Values) (int, map[string]any) {
	t.Helper()
	return rp.s.post(t, "/oauth2/token", rp.auth(form))
}

// auth adds the client's authentication to form (client_secret_post, none)
// or returns a request option for client_secret_basic.
func (rp *relyingParty) auth(form url.Values) postOpt {
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	switch rp.client.TokenEndpointAuthMethod {
	case storage.AuthMethodBasic:
		return postOpt{form: f, user: rp.client.ID, pass: rp.secret}
	case storage.AuthMethodPost:
		f.Set("client_id", rp.client.ID)
		f.Set("client_secret", rp.secret)
	default:
		f.Set("client_id", rp.client.ID)
	}
	return postOpt{form: f}
}

// refresh presents a refresh token.
func (rp *relyingParty) refresh(t *testing.T, rt string) (int, map[string]any) {
	t.Helper()
	return rp.tokenRequest(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// postOpt is a form request, with HTTP basic authentication when user is
// set.
type postOpt struct {
	form       url.Values
	user, pass string
	bearer     string
}

// post sends a form to path and decodes the JSON answer; it fails t on a
// 5xx or a body that is not JSON.
func (s *testServer) post(t *testing.T, path string, o postOpt) (int, map[string]any) {
	t.Helper()
	return s.doJSON(t, s.formRequest(t, path, o))
}

// formRequest builds the request post sends.
func (s *testServer) formRequest(t *testing.T, path string, o postOpt) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL+path, strings.NewReader(o.form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if o.user != "" {
		// RFC 6749 section 2.3.1: form-encoded, then Basic.
		req.SetBasicAuth(url.QueryEscape(o.user), url.QueryEscape(o.pass))
	}
	if o.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+o.bearer)
	}
	return req
}

func (s *testServer) doJSON(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 500 {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, body)
	}
	out := map[string]any{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %q", req.Method, req.URL.Path, resp.StatusCode, body)
		}
	}
	return resp.StatusCode, out
}

// introspect asks whether a token is active, authenticated as the resource
// server.
func (s *testServer) introspect(t *testing.T, token string) map[string]any {
	t.Helper()
	status, body := s.post(t, "/oauth2/introspect", s.rs.auth(url.Values{"token": {token}}))
	if status != http.StatusOK {
		t.Fatalf("introspect: %d %v", status, body)
	}
	return body
}

func (s *testServer) active(t *testing.T, token string) bool {
	t.Helper()
	return s.introspect(t, token)["active"] == true
}

// mailJobs counts the emails of template enqueued for to.
func (s *testServer) mailJobs(t *testing.T, to, template string) int {
	t.Helper()
	pg, ok := s.store.(*postgres.Store)
	if !ok {
		t.Fatalf("store is %T, not PostgreSQL", s.store)
	}
	var n int
	err := pg.Pool().QueryRow(t.Context(),
		`SELECT count(*) FROM river_job WHERE kind = 'mail' AND args->>'to' = $1 AND args->>'template' = $2`,
		to, template).Scan(&n)
	if err != nil {
		t.Fatalf("count mail jobs: %v", err)
	}
	return n
}

// auditKinds lists the kinds of the user's audit events.
func (s *testServer) auditKinds(t *testing.T, userID string) []string {
	t.Helper()
	events, err := s.store.ListAudit(t.Context(), userID, 100)
	if err != nil {
		t.Fatalf("list audit: %v", err)
	}
	var out []string
	for _, e := range events {
		out = append(out, e.Kind)
	}
	return out
}

// jwks fetches the published key set.
func (s *testServer) jwks(t *testing.T) jose.JSONWebKeySet {
	t.Helper()
	resp, err := http.Get(s.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("JWKS: %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatalf("JWKS: %v", err)
	}
	return set
}

// verifyJWT verifies token offline against the published JWKS, as a
// resource server does, and returns its header and claims.
func (s *testServer) verifyJWT(t *testing.T, token string) (jose.Header, map[string]any) {
	t.Helper()
	jws, err := jose.ParseSignedCompact(token, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
	if err != nil {
		t.Fatalf("parse JWT: %v", err)
	}
	h := jws.Signatures[0].Header
	set := s.jwks(t)
	keys := set.Key(h.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q: %d keys in the JWKS", h.KeyID, len(keys))
	}
	payload, err := jws.Verify(keys[0])
	if err != nil {
		t.Fatalf("JWT does not verify against the JWKS: %v", err)
	}
	claims := map[string]any{}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return h, claims
}

// browser is a user agent with a cookie jar that does not follow
// redirects, so every step is seen.
type browser struct {
	s *testServer
	c *http.Client
}

func (s *testServer) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{s: s, c: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is a read response.
type page struct {
	URL      *url.URL // of the request
	Status   int
	Header   http.Header
	Body     string
	Location *url.URL // resolved; nil without one
}

func (b *browser) do(t *testing.T, req *http.Request) *page {
	t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := &page{URL: req.URL, Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
	if loc := resp.Header.Get("Location"); loc != "" {
		p.Location, err = req.URL.Parse(loc)
		if err != nil {
			t.Fatalf("bad Location %q: %v", loc, err)
		}
	}
	if p.Status >= 500 {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL, p.Status, body)
	}
	return p
}

func (b *browser) get(t *testing.T, u string) *page {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b.do(t, req)
}

func (b *browser) post(t *testing.T, u string, form url.Values) *page {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(t, req)
}

// form is an HTML form as a browser would submit it.
type form struct {
	Action  *url.URL
	Fields  url.Values  // inputs with a name and value (hidden ones among them)
	Buttons [][2]string // submit buttons' name and value
}

// forms parses the forms of p.
func (p *page) forms(t *testing.T) []form {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(p.Body))
	if err != nil {
		t.Fatalf("parse %s: %v", p.URL, err)
	}
	var out []form
	var cur *form
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := func(k string) string {
				for _, a := range n.Attr {
					if a.Key == k {
						return a.Val
					}
				}
				return ""
			}
			switch n.Data {
			case "form":
				action, err := p.URL.Parse(attr("action"))
				if err != nil {
					t.Fatalf("form action %q: %v", attr("action"), err)
				}
				out = append(out, form{Action: action, Fields: url.Values{}})
				cur = &out[len(out)-1]
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				cur = nil
				return
			case "input":
				if cur != nil && attr("name") != "" {
					cur.Fields.Set(attr("name"), attr("value"))
				}
			case "button":
				if cur != nil && attr("name") != "" {
					cur.Buttons = append(cur.Buttons, [2]string{attr("name"), attr("value")})
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

// formWith returns p's form that has an input or button named name.
func (p *page) formWith(t *testing.T, name string) form {
	t.Helper()
	for _, f := range p.forms(t) {
		if _, ok := f.Fields[name]; ok {
			return f
		}
		for _, b := range f.Buttons {
			if b[0] == name {
				return f
			}
		}
	}
	t.Fatalf("%s (%d) has no form with %q:\n%s", p.URL, p.Status, name, p.Body)
	return form{}
}

// hasField reports whether a form of p has an input named name.
func (p *page) hasField(t *testing.T, name string) bool {
	t.Helper()
	for _, f := range p.forms(t) {
		if _, ok := f.Fields[name]; ok {
			return true
		}
	}
	return false
}

// submit posts f with values set and, when button is given, that button's
// name=value.
func (b *browser) submit(t *testing.T, f form, values map[string]string, button [2]string) *page {
	t.Helper()
	v := url.Values{}
	for k, vs := range f.Fields {
		v[k] = vs
	}
	for k, val := range values {
		v.Set(k, val)
	}
	if button[0] != "" {
		found := false
		for _, fb := range f.Buttons {
			found = found || fb == button
		}
		if !found {
			t.Fatalf("form %s has no button %s=%s", f.Action, button[0], button[1])
		}
		v.Set(button[0], button[1])
	}
	return b.post(t, f.Action.String(), v)
}

// flowSteps say what the user does on latch's pages. An empty Email stops
// at the login page; an empty Consent stops at the consent page.
type flowSteps struct {
	Email, Password string
	TOTPSecret      string // answers the second step with a current code
	Consent         string // "allow" or "deny"
}

// flowResult is where an authorization ended.
type flowResult struct {
	// Callback is the redirect to the client, nil when the flow stopped on
	// a latch page.
	Callback *url.URL
	// Last is the last response from latch.
	Last       *page
	SawLogin   bool
	SawConsent bool
}

// authorize starts at authURL and follows the flow through the login and
// consent pages until latch redirects to another host (the client) or
// stops on a page.
func (b *browser) authorize(t *testing.T, authURL string, steps flowSteps) flowResult {
	t.Helper()
	issuer, _ := url.Parse(b.s.URL)
	var res flowResult
	p := b.get(t, authURL)
	for range 20 {
		res.Last = p
		switch {
		case p.Location != nil && p.Status >= 300 && p.Status < 400:
			if p.Location.Host != issuer.Host {
				res.Callback = p.Location
				return res
			}
			p = b.get(t, p.Location.String())
		case p.Status == http.StatusOK && p.URL.Path == "/login":
			res.SawLogin = true
			if steps.Email == "" {
				return res
			}
			f := p.formWith(t, "password")
			p = b.submit(t, f, map[string]string{"email": steps.Email, "password": steps.Password}, [2]string{})
			steps.Email = "" // a second login page means the login failed
		case p.Status == http.StatusOK && steps.TOTPSecret != "" && p.hasField(t, "code"):
			code, err := totp.GenerateCode(steps.TOTPSecret, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			p = b.submit(t, p.formWith(t, "code"), map[string]string{"code": code}, [2]string{})
			steps.TOTPSecret = ""
		case p.Status == http.StatusOK && p.URL.Path == "/consent":
			res.SawConsent = true
			if steps.Consent == "" {
				return res
			}
			f := p.formWith(t, "decision")
			p = b.submit(t, f, nil, [2]string{"decision", steps.Consent})
			steps.Consent = ""
		default:
			return res
		}
	}
	t.Fatalf("authorization did not finish after 20 steps; last %s %d", p.URL, p.Status)
	return res
}

// code returns the authorization code of a successful flow after checking
// the callback's state and iss.
func (r flowResult) code(t *testing.T, s *testServer, state string) string {
	t.Helper()
	q := r.callbackQuery(t, s, state)
	if q.Get("error") != "" {
		t.Fatalf("authorization failed: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	code := q.Get("code")
	if code == "" {
		t.Fatalf("callback without code: %s", r.Callback)
	}
	return code
}

// callbackQuery returns the callback's parameters after checking state and
// iss (RFC 9207), for successes and errors alike.
func (r flowResult) callbackQuery(t *testing.T, s *testServer, state string) url.Values {
	t.Helper()
	if r.Callback == nil {
		t.Fatalf("no redirect to the client; stopped at %s (%d):\n%s", r.Last.URL, r.Last.Status, r.Last.Body)
	}
	q := r.Callback.Query()
	if got := q.Get("state"); got != state {
		t.Errorf("callback state = %q, want %q", got, state)
	}
	if got := q.Get("iss"); got != s.URL {
		t.Errorf("callback iss = %q, want %q (RFC 9207)", got, s.URL)
	}
	return q
}

// oauthError returns the RFC 6749 error code of a JSON error body.
func oauthError(body map[string]any) string {
	s, _ := body["error"].(string)
	return s
}

// claim returns a claim as a string ("" when absent or not a string).
func claim(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func mustEqual[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func describe(status int, body map[string]any) string {
	return fmt.Sprintf("%d %v", status, body)
}
