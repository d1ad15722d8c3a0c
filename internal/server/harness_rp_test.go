package server

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

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
func (s *testServer) client(t testing.TB, m clients.Metadata) *relyingParty {
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
	return s.relyingParty(c, sec)
}

// relyingParty is the x/oauth2 configuration of a client that exists.
func (s *testServer) relyingParty(c storage.Client, sec string) *relyingParty {
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
func (rp *relyingParty) idVerifier(t testing.TB) *oidc.IDTokenVerifier {
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

// challengeOf is the S256 challenge of the request's verifier.
func challengeOf(ar authRequest) string {
	sum := sha256.Sum256([]byte(ar.Verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
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
func (rp *relyingParty) login(t testing.TB, b *browser, u storage.User, scopes []string, params map[string]string) tokens {
	t.Helper()
	ar := rp.authURL(scopes, params)
	res := b.authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"})
	code := res.code(t, rp.s, ar.State)
	return rp.exchange(t, code, ar)
}

// exchange trades a code for tokens with x/oauth2 and verifies the ID
// token when there is one.
func (rp *relyingParty) exchange(t testing.TB, code string, ar authRequest) tokens {
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
func (rp *relyingParty) tokenRequest(t testing.TB, form url.Values) (int, map[string]any) {
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
func (rp *relyingParty) refresh(t testing.TB, rt string) (int, map[string]any) {
	t.Helper()
	return rp.tokenRequest(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
}

// rsToken gets a client_credentials access token for rp.
func (s *testServer) rsToken(t testing.TB, rp *relyingParty) (map[string]any, string) {
	t.Helper()
	status, body := rp.tokenRequest(t, url.Values{"grant_type": {"client_credentials"}})
	if status != http.StatusOK {
		t.Fatalf("client_credentials: %s", describe(status, body))
	}
	return body, claim(body, "access_token")
}
