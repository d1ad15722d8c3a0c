// Package webapp is the demo web app of `make demo`: a third party's
// server-side app, a confidential client on golang.org/x/oauth2 and go-oidc.
// Its users see latch's consent page the first time they sign in, as it is
// not first-party; it shows who signed in and the tokens' claims; and it
// signs out of latch too (OpenID Connect RP-initiated logout).
// cmd/demo-webapp runs it.
//
// Without a client ID it registers itself at start (RFC 7591) at the
// registration endpoint latch's discovery names, so it needs no secret
// copied from latch's output; latch makes every self-registered client a
// third party with user-consented grants only, which is what this app is.
//
// Tokens stay on the server, in memory, keyed by a random session cookie;
// the browser never sees them.
package webapp

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

//go:embed templates
var files embed.FS

// Config says where latch and the app are.
type Config struct {
	// Issuer is latch's issuer URL.
	Issuer string
	// URL is where the app is served (http://localhost:8084 in the demo):
	// its redirect URI is URL/callback, its sign-out return URL/.
	URL string
	// ClientID and ClientSecret are the app's credentials. Without a
	// ClientID the app registers itself at start.
	ClientID, ClientSecret string
	// Scopes the app asks for; default openid, profile, email and api:read
	// (the demo API's: the consent page names that API).
	Scopes []string
}

// app is the running web app.
type app struct {
	cfg        Config
	oauth      *oauth2.Config
	verifier   *oidc.IDTokenVerifier
	endSession string
	page       *template.Template
	sessions   sessions
	secure     bool // cookies only over https
}

// NewHandler discovers latch, registers the app when it has no client ID,
// and returns the app.
func NewHandler(ctx context.Context, cfg Config) (http.Handler, error) {
	cfg.URL = strings.TrimRight(cfg.URL, "/")
	if cfg.Scopes == nil {
		cfg.Scopes = []string{oidc.ScopeOpenID, "profile", "email", "api:read"}
	}
	provider, err := oidc.NewProvider(ctx, cfg.Issuer)
	if err != nil {
		return nil, err
	}
	var meta struct {
		Registration string `json:"registration_endpoint"`
		EndSession   string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&meta); err != nil {
		return nil, err
	}
	if cfg.ClientID == "" {
		if cfg.ClientID, cfg.ClientSecret, err = register(ctx, meta.Registration, cfg); err != nil {
			return nil, err
		}
	}
	page, err := template.ParseFS(files, "templates/page.html")
	if err != nil {
		return nil, err
	}
	endpoint := provider.Endpoint()
	endpoint.AuthStyle = oauth2.AuthStyleInHeader // client_secret_basic, as registered
	a := &app{
		cfg: cfg,
		oauth: &oauth2.Config{
			ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: endpoint,
			RedirectURL: cfg.URL + "/callback", Scopes: cfg.Scopes,
		},
		verifier:   provider.Verifier(&oidc.Config{ClientID: cfg.ClientID}),
		endSession: meta.EndSession,
		page:       page,
		sessions:   sessions{m: map[string]*session{}},
		secure:     strings.HasPrefix(cfg.URL, "https://"),
	}
	issuer, _ := url.Parse(cfg.Issuer)
	// Signing out posts a form that redirects to latch: form-action must
	// allow latch's origin too.
	csp := "default-src 'none'; style-src 'self'; form-action 'self' " + issuer.Scheme + "://" + issuer.Host + "; base-uri 'none'; frame-ancestors 'none'"
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("GET /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	mux.HandleFunc("POST /logout", a.logout)
	assets, err := fs.Sub(files, "templates")
	if err != nil {
		return nil, err
	}
	mux.Handle("GET /style.css", http.FileServerFS(assets))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Referrer-Policy", "no-referrer") // the callback's address carries the code
		w.Header().Set("X-Content-Type-Options", "nosniff")
		mux.ServeHTTP(w, r)
	}), nil
}

// register registers the app as a confidential client (RFC 7591) and
// returns its credentials.
func register(ctx context.Context, endpoint string, cfg Config) (id, secret string, err error) {
	if endpoint == "" {
		return "", "", errors.New("latch names no registration endpoint: start it with LATCH_CLIENT_REGISTRATION=open, or give the app a client ID and secret")
	}
	body, _ := json.Marshal(map[string]any{
		"client_name":                "Demo Web App",
		"redirect_uris":              []string{cfg.URL + "/callback"},
		"post_logout_redirect_uris":  []string{cfg.URL + "/"},
		"grant_types":                []string{"authorization_code", "refresh_token"},
		"response_types":             []string{"code"},
		"token_endpoint_auth_method": "client_secret_basic",
		"scope":                      strings.Join(cfg.Scopes, " "),
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return "", "", fmt.Errorf("register: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var reg struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(answer, &reg) != nil || reg.ClientID == "" || reg.ClientSecret == "" {
		return "", "", fmt.Errorf("register at %s: %s %s", endpoint, resp.Status, answer)
	}
	return reg.ClientID, reg.ClientSecret, nil
}

// view is what the page shows.
type view struct {
	Message, Error string
	User           string
	CSRF           string
	IDClaims       string
	AccessClaims   string
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	s := a.sessions.get(r)
	var v view
	if s != nil {
		a.sessions.mu.Lock()
		if state := r.URL.Query().Get("state"); state != "" && state == s.loggedOut {
			v.Message = "You signed out, of this app and of latch."
		}
		v = s.view(v)
		a.sessions.mu.Unlock()
	}
	a.render(w, http.StatusOK, v)
}

// login starts a sign-in: state against forged callbacks, a nonce against
// replayed ID tokens, and PKCE (a confidential client uses it too).
func (a *app) login(w http.ResponseWriter, r *http.Request) {
	s := a.sessions.start(w, r, a.secure)
	a.sessions.mu.Lock()
	s.pending = &pending{state: random(), nonce: random(), verifier: oauth2.GenerateVerifier()}
	p := *s.pending
	a.sessions.mu.Unlock()
	http.Redirect(w, r, a.oauth.AuthCodeURL(p.state, oidc.Nonce(p.nonce), oauth2.S256ChallengeOption(p.verifier)), http.StatusFound)
}

// callback finishes a sign-in and shows its outcome, success or not.
func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s := a.sessions.get(r)
	var p *pending
	if s != nil {
		a.sessions.mu.Lock()
		p, s.pending = s.pending, nil // a sign-in finishes once
		a.sessions.mu.Unlock()
	}
	fail := func(msg string) { a.render(w, http.StatusBadRequest, view{Error: msg}) }
	switch {
	case p == nil || q.Get("state") != p.state:
		fail("This answer does not belong to a sign-in started here (no or another state). Sign in again.")
		return
	case q.Get("iss") != a.cfg.Issuer:
		fail("This answer does not come from " + a.cfg.Issuer + " (RFC 9207 iss).")
		return
	case q.Get("error") == "access_denied":
		fail("You did not allow the app to sign you in.")
		return
	case q.Get("error") != "":
		fail("Sign-in failed: " + q.Get("error") + " " + q.Get("error_description"))
		return
	}
	ctx := r.Context()
	tok, err := a.oauth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		fail("The code could not be exchanged: " + err.Error())
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		fail("The ID token is not valid: " + err.Error())
		return
	}
	if idt.Nonce != p.nonce {
		fail("The ID token is not for this sign-in (nonce).")
		return
	}
	var idClaims map[string]any
	if err := idt.Claims(&idClaims); err != nil {
		fail("The ID token's claims cannot be read: " + err.Error())
		return
	}
	a.sessions.mu.Lock()
	s.idToken, s.idClaims, s.accessClaims, s.csrf, s.loggedOut = raw, idClaims, jwtClaims(tok.AccessToken), random(), ""
	v := s.view(view{Message: "Signed in."})
	a.sessions.mu.Unlock()
	a.render(w, http.StatusOK, v)
}

// logout ends the app's session, then sends the browser to latch to end
// latch's, with the ID token as the hint: latch then signs the user out
// without asking, and comes back to the app's home page.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	s := a.sessions.get(r)
	csrf := r.PostFormValue("csrf")
	if s == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	a.sessions.mu.Lock()
	if s.idToken == "" || csrf != s.csrf {
		a.sessions.mu.Unlock()
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	hint, state := s.idToken, random()
	s.idToken, s.idClaims, s.accessClaims, s.csrf, s.loggedOut = "", nil, nil, "", state
	a.sessions.mu.Unlock()
	u, _ := url.Parse(a.endSession)
	u.RawQuery = url.Values{
		"id_token_hint": {hint}, "post_logout_redirect_uri": {a.cfg.URL + "/"},
		"client_id": {a.cfg.ClientID}, "state": {state},
	}.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func (a *app) render(w http.ResponseWriter, status int, v view) {
	var b bytes.Buffer
	if err := a.page.Execute(&b, v); err != nil {
		http.Error(w, "page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// jwtClaims decodes a JWT's payload for display. latch's access tokens are
// JWTs for the API (their audience), which verifies them; the app only
// shows what they say.
func jwtClaims(token string) map[string]any {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var c map[string]any
	json.Unmarshal(payload, &c)
	return c
}

func random() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessions are the app's own sessions, in memory: a demo forgets them when
// it stops.
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

// session is one browser's: a sign-in under way, or a signed-in user.
type session struct {
	pending      *pending
	idToken      string
	idClaims     map[string]any
	accessClaims map[string]any
	csrf         string
	loggedOut    string // the state of the sign-out under way
}

type pending struct{ state, nonce, verifier string }

// view fills v from the session. Callers hold the lock or own s.
func (s *session) view(v view) view {
	if s.idToken == "" {
		return v
	}
	email, _ := s.idClaims["email"].(string)
	name, _ := s.idClaims["name"].(string)
	sub, _ := s.idClaims["sub"].(string)
	switch {
	case name != "" && email != "":
		v.User = name + " <" + email + ">"
	case email != "":
		v.User = email
	default:
		v.User = sub
	}
	v.CSRF = s.csrf
	v.IDClaims = indent(s.idClaims)
	v.AccessClaims = indent(s.accessClaims)
	return v
}

func indent(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

const cookieName = "demo_webapp_session"

// maxSessions bounds the memory sessions take: past it they start over.
const maxSessions = 10_000

func (ss *sessions) get(r *http.Request) *session {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.m[c.Value]
}

// start returns the request's session, or a new one with its cookie.
func (ss *sessions) start(w http.ResponseWriter, r *http.Request, secure bool) *session {
	if s := ss.get(r); s != nil {
		return s
	}
	id := random()
	s := &session{}
	ss.mu.Lock()
	if len(ss.m) >= maxSessions {
		ss.m = map[string]*session{}
	}
	ss.m[id] = s
	ss.mu.Unlock()
	// SameSite=Lax: the cookie comes along on latch's redirect back.
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: id, Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
	return s
}
