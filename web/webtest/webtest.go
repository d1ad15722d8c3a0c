// Package webtest runs latch's pages (login, consent, account) together
// against the real memory store and a real Redis, behind an httptest
// server, for the tests of those packages. It stands in for provider with
// a small resume endpoint; accounts' own Revocation ends what a user holds,
// without access tokens, which these pages never see. It is for tests only and never runs in the server.
package webtest

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/pquerna/otp/totp"
	"github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/account"
	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/brand"
	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/consent"
	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/internal/testenv"
	"github.com/latch-idp/latch/login"
	"github.com/latch-idp/latch/mfa"
	"github.com/latch-idp/latch/passkey"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/provider"
	"github.com/latch-idp/latch/ratelimit"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/memory"
	"github.com/latch-idp/latch/web"
)

// Options tune an Env.
type Options struct {
	Registration bool
	// Reauth is the account page's re-authentication window (its
	// default when zero).
	Reauth time.Duration
	// HoldMail, when set, holds every mail written until it is closed.
	HoldMail chan struct{}
	// LoginStore, when set, wraps the store the login pages read.
	LoginStore func(login.Store) login.Store
	// Localhost serves the pages as http://localhost:PORT rather than on
	// the loopback address, so that passkeys are on (WebAuthn needs a
	// domain name).
	Localhost bool
}

// Env is a running set of pages.
type Env struct {
	Store    *memory.Store
	Redis    *redis.Client
	Box      *secret.Box
	Site     *web.Site
	Flows    *flow.Store
	Sessions *session.Store
	Hasher   *password.Hasher
	Checker  password.Checker
	TOTP     *mfa.TOTP
	Passkeys *passkey.Service
	Revoker  *accounts.Revocation
	Accounts *accounts.Service
	Server   *httptest.Server
	URL      string // the issuer

	breached sync.Map // SHA-1 hex (upper case) → true, served by the fake range API
	mu       sync.Mutex
	mails    []storage.MailJob
}

// TestParams are cheap Argon2id parameters, so tests run quickly; the
// production parameters are a configuration matter tested in password.
var TestParams = password.Params{Memory: 1024, Iterations: 1, Parallelism: 1}

// New starts the pages for t.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	e := &Env{Redis: testenv.Redis(t)}
	e.Store = memory.New(memory.Options{Mail: func(m storage.MailJob) {
		if o.HoldMail != nil {
			<-o.HoldMail
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		e.mails = append(e.mails, m)
	}})
	var err error
	if e.Box, err = secret.New([]byte("webtest system secret, 32 bytes or more, never in production")); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(&testWriter{t}, nil))
	}

	hibp := httptest.NewServer(http.HandlerFunc(e.serveRange))
	t.Cleanup(hibp.Close)

	srv := httptest.NewUnstartedServer(nil)
	e.Server = srv
	e.URL = "http://" + srv.Listener.Addr().String()
	if o.Localhost {
		e.URL = fmt.Sprintf("http://localhost:%d", srv.Listener.Addr().(*net.TCPAddr).Port)
	}
	if e.Site, err = web.NewSite(e.URL, e.Box, log, brand.Look{}); err != nil {
		t.Fatal(err)
	}
	e.Flows = flow.NewStore(e.Redis, 10*time.Minute, flow.Pages{Login: login.PathLogin, Consent: consent.Path, Resume: provider.PathResume})
	e.Sessions = session.NewStore(e.Redis, session.Options{Secure: false})
	e.Hasher = password.NewHasher(TestParams, 4, 2*time.Second)
	e.Checker = password.Checker{Policy: password.DefaultPolicy(), Breach: password.NewBreach(password.BreachOptions{
		URL: hibp.URL + "/range/", Enabled: true, Redis: e.Redis, Logger: log,
	})}
	e.TOTP = mfa.NewTOTP(e.Redis, e.Box, "latch-test")
	e.Revoker = accounts.NewRevocation(e.Store, nil, e.Sessions)
	if e.Passkeys, err = passkey.New(passkey.Config{Issuer: e.URL, Store: e.Store, Redis: e.Redis, Log: log}); err != nil {
		t.Fatal(err)
	}
	if e.Accounts, err = accounts.New(accounts.Config{
		Store: e.Store, Hasher: e.Hasher, Checker: e.Checker, Revoker: e.Revoker, Box: e.Box,
		VerifyURL: e.URL + login.PathVerify, ResetURL: e.URL + login.PathReset, EmailChangeURL: e.URL + account.PathEmailConfirm, Log: log,
	}); err != nil {
		t.Fatal(err)
	}

	r := mux.NewRouter()
	e.Site.MountAssets(r)
	var loginStore login.Store = e.Store
	if o.LoginStore != nil {
		loginStore = o.LoginStore(e.Store)
	}
	lh, err := login.New(login.Config{
		Site: e.Site, Store: loginStore, Redis: e.Redis, Flows: e.Flows, Sessions: e.Sessions,
		Accounts: e.Accounts, TOTP: e.TOTP, Passkeys: e.Passkeys, Box: e.Box,
		AccountLimit: ratelimit.New(e.Redis, "login-account", 5, 15*time.Minute),
		IPLimit:      ratelimit.New(e.Redis, "login-ip", 20, 15*time.Minute),
		Issuer:       e.URL, Home: account.Path, Registration: o.Registration, Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	lh.Mount(r)
	ch, err := consent.New(consent.Config{Site: e.Site, Store: e.Store, Flows: e.Flows, Sessions: e.Sessions, Issuer: e.URL, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ch.Mount(r)
	ah, err := account.New(account.Config{
		Site: e.Site, Store: e.Store, Sessions: e.Sessions, Accounts: e.Accounts,
		TOTP: e.TOTP, Passkeys: e.Passkeys, Box: e.Box, Limit: ratelimit.New(e.Redis, "account", 5, 15*time.Minute),
		Reauth: o.Reauth, Log: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	ah.Mount(r)
	r.Handle(provider.PathResume, http.HandlerFunc(e.resume))
	srv.Config.Handler = r
	srv.Start()
	t.Cleanup(srv.Close)
	return e
}

type testWriter struct{ t testing.TB }

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Breach makes the fake range API list pw as breached, dropping the range
// answers cached so far.
func (e *Env) Breach(pw string) {
	sum := sha1.Sum([]byte(pw))
	e.breached.Store(strings.ToUpper(hex.EncodeToString(sum[:])), true)
	ctx := context.Background()
	keys, _ := e.Redis.Keys(ctx, "latch:hibp:*").Result()
	if len(keys) > 0 {
		e.Redis.Del(ctx, keys...)
	}
}

// serveRange is the Pwned Passwords range API, padded like the real one.
func (e *Env) serveRange(w http.ResponseWriter, r *http.Request) {
	prefix := strings.ToUpper(strings.TrimPrefix(r.URL.Path, "/range/"))
	if len(prefix) != 5 {
		http.NotFound(w, r)
		return
	}
	fmt.Fprintf(w, "%s:0\r\n", strings.Repeat("0", 35))
	e.breached.Range(func(k, _ any) bool {
		if h := k.(string); strings.HasPrefix(h, prefix) {
			fmt.Fprintf(w, "%s:42\r\n", h[5:])
		}
		return true
	})
}

// Mails returns the mail enqueued so far. Work the pages deferred past
// their answer (accounts.Service.Later) is finished first, so what a
// request sends is there once it answered.
func (e *Env) Mails() []storage.MailJob {
	e.Settle()
	return e.MailsHeld()
}

// MailsHeld returns the mail delivered so far without waiting for deferred
// work (see Options.HoldMail).
func (e *Env) MailsHeld() []storage.MailJob {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.mails)
}

// LastMail returns the last mail to to with template, or fails t.
func (e *Env) LastMail(t testing.TB, to, template string) storage.MailJob {
	t.Helper()
	ms := e.Mails()
	for i := len(ms) - 1; i >= 0; i-- {
		if ms[i].To == to && ms[i].Template == template {
			return ms[i]
		}
	}
	t.Fatalf("no %s mail to %s; mail so far: %v", template, to, ms)
	return storage.MailJob{}
}

// CountMail counts the mail to to with template.
func (e *Env) CountMail(to, template string) int {
	n := 0
	for _, m := range e.Mails() {
		if m.To == to && m.Template == template {
			n++
		}
	}
	return n
}

// CreateUser stores a verified user with password pw; mutate may change
// more before it is stored.
func (e *Env) CreateUser(t testing.TB, email, pw string, mutate func(*storage.User)) storage.User {
	t.Helper()
	phc, err := e.Hasher.Hash(context.Background(), pw)
	if err != nil {
		t.Fatal(err)
	}
	u := storage.User{Email: email, Name: "Test User", Role: storage.RoleUser, PasswordHash: phc, EmailVerified: true}
	if mutate != nil {
		mutate(&u)
	}
	u, err = e.Store.CreateUser(context.Background(), u, storage.Effects{})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// User reloads a user.
func (e *Env) User(t testing.TB, id string) storage.User {
	t.Helper()
	u, err := e.Store.GetUser(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// EnableTOTP gives the user a TOTP secret directly and returns it.
func (e *Env) EnableTOTP(t testing.TB, userID string) string {
	t.Helper()
	en, err := e.TOTP.Generate("user")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.UpdateUser(context.Background(), userID, storage.Effects{}, func(u *storage.User) error {
		u.TOTPSecret = e.TOTP.Seal(userID, en.Secret)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return en.Secret
}

// Code returns the TOTP code of secret at now+offset.
func Code(t testing.TB, secret string, offset time.Duration) string {
	t.Helper()
	c, err := totp.GenerateCode(secret, time.Now().Add(offset))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ThirdParty is the client ID prefix for which the fake provider asks for
// consent.
const ThirdParty = "3p-"

// StartFlow creates a flow for client as provider's authorize endpoint
// does, and returns it.
func (e *Env) StartFlow(t testing.TB, clientID string, scopes []string, mutate func(*flow.Flow)) *flow.Flow {
	t.Helper()
	f := &flow.Flow{
		Stage: flow.StageLogin, ClientID: clientID, ClientName: "App " + clientID,
		Query: url.Values{"client_id": {clientID}}.Encode(), Scopes: scopes,
	}
	if mutate != nil {
		mutate(f)
	}
	err := e.Store.CreateClient(context.Background(), storage.Client{
		ID: clientID, Name: f.ClientName, RedirectURIs: []string{"https://app.example/cb"},
		GrantTypes: []string{clients.GrantAuthorizationCode}, ResponseTypes: []string{"code"},
		Scopes: scopes, TokenEndpointAuthMethod: storage.AuthMethodNone,
	})
	if err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatal(err)
	}
	if err := e.Flows.Create(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	return f
}

// Result is what the fake provider answers when a flow is finished.
type Result struct {
	Flow flow.Flow `json:"flow"`
	// Error is the OAuth error provider would send the client:
	// access_denied for a denied flow, as provider's authorize does.
	Error string `json:"error,omitempty"`
}

// resume plays provider: a signed-in flow of a third-party client without
// a decision goes to consent; any other flow is finished, and answered with
// the flow (and the error, for a denied one) as JSON.
func (e *Env) resume(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, err := e.Flows.Get(ctx, r.URL.Query().Get("flow"), flow.StageResume)
	if err != nil {
		http.Error(w, "no flow", http.StatusBadRequest)
		return
	}
	if strings.HasPrefix(f.ClientID, ThirdParty) && !f.Consented && !f.Denied {
		f.Stage = flow.StageConsent
		if err := e.Flows.Save(ctx, f); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, e.Flows.URL(flow.StageConsent, f.ID), http.StatusSeeOther)
		return
	}
	if _, err := e.Flows.Take(ctx, f.ID, flow.StageResume); err != nil {
		http.Error(w, "no flow", http.StatusBadRequest)
		return
	}
	res := Result{Flow: *f}
	if f.Denied {
		res.Error = "access_denied"
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

// Client is a browser without JavaScript: a cookie jar that does not follow
// redirects, so tests see each 303.
type Client struct {
	e    *Env
	HTTP *http.Client
	// NoSettle returns each answer as soon as it comes, without waiting
	// for the work the request deferred past it.
	NoSettle bool
}

// NewClient returns a client with an empty cookie jar.
func (e *Env) NewClient() *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{e: e, HTTP: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Response is a read response.
type Response struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
}

func (c *Client) do(t testing.TB, req *http.Request) *Response {
	t.Helper()
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	// What the request deferred past its answer is done before the test
	// looks at the store.
	if !c.NoSettle {
		c.e.Settle()
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: string(b), Location: resp.Header.Get("Location")}
}

// Get fetches path (or an absolute URL).
func (c *Client) Get(t testing.TB, path string) *Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.abs(path), nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.do(t, req)
}

// Post submits form to path as is, without adding a CSRF token.
func (c *Client) Post(t testing.TB, path string, form url.Values) *Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.abs(path), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(t, req)
}

// Submit posts form to path with the client's CSRF token, fetching a page
// first when the client has none yet.
func (c *Client) Submit(t testing.TB, path string, form url.Values) *Response {
	t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	f.Set(web.CSRFField, c.CSRF(t))
	return c.Post(t, path, f)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// CSRF returns the client's CSRF token, read from the sign-in page.
func (c *Client) CSRF(t testing.TB) string {
	t.Helper()
	r := c.Get(t, "/forgot")
	m := csrfRE.FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("no CSRF token in /forgot: %d %s", r.Status, r.Body)
	}
	return m[1]
}

func (c *Client) abs(path string) string {
	if strings.HasPrefix(path, "http") {
		return path
	}
	return c.e.URL + path
}

// Follow gets r's Location, and the redirects after it, up to n hops,
// returning the last response.
func (c *Client) Follow(t testing.TB, r *Response) *Response {
	t.Helper()
	for i := 0; i < 10 && r.Location != ""; i++ {
		r = c.Get(t, r.Location)
	}
	return r
}

// Login signs in with email and password without a flow and fails t
// unless it lands on /account (or needs a code, when code is given).
func (c *Client) Login(t testing.TB, email, pw string) *Response {
	t.Helper()
	return c.Submit(t, login.PathLogin, url.Values{"email": {email}, "password": {pw}})
}

// Cookie returns the value of the named cookie for the env's URL.
func (c *Client) Cookie(name string) string {
	u, _ := url.Parse(c.e.URL)
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// Attr returns every value of the HTML attribute name in body.
func Attr(body, name string) []string {
	re := regexp.MustCompile(regexp.QuoteMeta(name) + `="([^"]*)"`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// DecodeResult parses the fake provider's final answer.
func DecodeResult(t testing.TB, r *Response) Result {
	t.Helper()
	var res Result
	if r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &res) != nil {
		t.Fatalf("not a finished flow: %d %s", r.Status, r.Body)
	}
	return res
}

// MustStatus fails t unless r has status want.
func MustStatus(t testing.TB, r *Response, want int) {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d; location %q; body:\n%s", r.Status, want, r.Location, r.Body)
	}
}

// MustRedirect fails t unless r is a 303 to location.
func MustRedirect(t testing.TB, r *Response, location string) {
	t.Helper()
	if r.Status != http.StatusSeeOther || r.Location != location {
		t.Fatalf("got %d to %q, want 303 to %q; body:\n%s", r.Status, r.Location, location, r.Body)
	}
}

// Session returns the browser session c carries, and fails t without one.
func (e *Env) Session(t testing.TB, c *Client) *session.Session {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, e.URL+"/", nil)
	u, _ := url.Parse(e.URL)
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		req.AddCookie(ck)
	}
	sess, err := e.Sessions.Get(t.Context(), req)
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	return sess
}

// Settle waits for the work the pages deferred past their answers
// (accounts.Service.Later), so that its writes can be checked.
func (e *Env) Settle() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := e.Accounts.Wait(ctx); err != nil {
		panic("webtest: deferred work did not finish: " + err.Error())
	}
}
