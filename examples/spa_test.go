package examples_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/latch-idp/latch/internal/server"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web/webtest"
)

// TestSPA drives the single-page app in Chromium: sign-in with code and
// PKCE entirely in the browser, a refresh that rotates the refresh token,
// a call to the API on another origin (CORS), and sign-out, which revokes
// the refresh token and ends latch's session. The cases build on each
// other, in one tab.
func TestSPA(t *testing.T) {
	d := startDemo(t)
	// The tab belongs to the whole test: the cases go on where the one
	// before stopped.
	s := &spaSuite{d: d, user: d.latch.User(t, storage.RoleUser), tab: d.newTab(t)}
	t.Run("case=sign-in with code and PKCE shows the user and the token's claims", s.signIn)
	t.Run("case=a refresh rotates the refresh token", s.refresh)
	t.Run("case=a refresh token taken from the page is useless without the key", s.stolenRefreshToken)
	t.Run("case=the API answers the SPA across origins", s.callAcrossOrigins)
	t.Run("case=an access token taken from the page is useless without the key", s.stolenAccessToken)
	t.Run("case=sign-out revokes the refresh token and ends latch's session", s.signOut)
}

// TestSPAWithServerNonces runs the SPA against a latch that wants a server
// nonce in every DPoP proof (LATCH_DPOP_NONCE=on): the SPA retries each
// first request with the nonce latch answered, and signs in, refreshes and
// calls the API as without nonces.
func TestSPAWithServerNonces(t *testing.T) {
	d := startDemo(t, func(c *server.Config) { c.DPoPNonce = true })
	s := &spaSuite{d: d, user: d.latch.User(t, storage.RoleUser), tab: d.newTab(t)}
	s.signIn(t)
	s.refresh(t)
	s.callAcrossOrigins(t)
}

type spaSuite struct {
	d    *demo
	user storage.User
	tab  context.Context
	// signedIn is set when the sign-in case passed: the others build on it.
	signedIn bool
}

func (s *spaSuite) signIn(t *testing.T) {
	s.d.spaSignIn(t, s.tab, `#signin`, s.user.Email)
	// The code left the address bar.
	if loc := webtest.Get(s.tab, t, wait, chromedp.Location()); loc != s.d.spa+"/" {
		t.Errorf("after the callback the SPA is at %s", loc)
	}
	if id := text(t, s.tab, `#id-claims`); !strings.Contains(id, s.user.Email) || !strings.Contains(id, `"nonce"`) {
		t.Errorf("ID token claims shown:\n%s", id)
	}
	at := text(t, s.tab, `#access-claims`)
	for _, want := range []string{s.d.api, `"role": "user"`, "api:write"} {
		if !strings.Contains(at, want) {
			t.Errorf("access token claims lack %s:\n%s", want, at)
		}
	}
	if storedToken(t, s.tab, "refresh_token") == "" {
		t.Error("the first-party SPA got no refresh token")
	}
	s.checkBinding(t)
	s.signedIn = true
}

func (s *spaSuite) refresh(t *testing.T) {
	if !s.signedIn {
		t.Fatal("sign-in failed")
	}
	before, access := storedToken(t, s.tab, "refresh_token"), storedToken(t, s.tab, "access_token")
	webtest.Do(s.tab, t, wait, chromedp.Click(css(`#refresh`)), chromedp.WaitVisible(css(`#signed-in[data-refreshes="1"]`)))
	after := storedToken(t, s.tab, "refresh_token")
	if after == "" || after == before {
		t.Errorf("the refresh token did not rotate")
	}
	if storedToken(t, s.tab, "access_token") == access {
		t.Error("the refresh brought no new access token")
	}
	if got := text(t, s.tab, `#status`); !strings.Contains(got, "Refreshed") {
		t.Errorf("status: %q", got)
	}
}

// checkBinding checks that the access token is bound (cnf.jkt) to the key
// the page shows, and that WebCrypto holds that key's private half as
// non-extractable.
func (s *spaSuite) checkBinding(t *testing.T) {
	t.Helper()
	jkt := webtest.Get(s.tab, t, wait, chromedp.Evaluate[string](`document.getElementById("dpop-key").dataset.jkt`))
	if jkt == "" {
		t.Fatal("the page shows no DPoP key")
	}
	if got := webtest.Get(s.tab, t, wait, chromedp.Evaluate[string](`document.getElementById("dpop-key").dataset.extractable`)); got != "false" {
		t.Errorf("the private key's extractable is %s", got)
	}
	if at := text(t, s.tab, `#access-claims`); !strings.Contains(at, `"jkt": "`+jkt+`"`) {
		t.Errorf("the access token is not bound to the page's key %s:\n%s", jkt, at)
	}
}

// stolenRefreshToken presents the page's refresh token from Go, as a thief
// would: without a proof, and with a proof of another key. Neither works,
// and neither spends it: the page refreshes with it afterwards.
func (s *spaSuite) stolenRefreshToken(t *testing.T) {
	if !s.signedIn {
		t.Fatal("sign-in failed")
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {storedToken(t, s.tab, "refresh_token")}, "client_id": {s.d.spaClientID}}
	tokenURL := s.d.latch.URL + "/oauth2/token"
	for name, c := range map[string]struct{ proof, want string }{
		"without a proof":          {"", "invalid_dpop_proof"},
		"with another key's proof": {thiefProof(t, http.MethodPost, tokenURL, ""), "invalid_grant"},
	} {
		status, answer := postForm(t, tokenURL, form, c.proof)
		if status != http.StatusBadRequest || answer != c.want {
			t.Errorf("the stolen refresh token %s: %d %q, want 400 %s", name, status, answer, c.want)
		}
	}
	webtest.Do(s.tab, t, wait, chromedp.Click(css(`#refresh`)), chromedp.WaitVisible(css(`#signed-in[data-refreshes="2"]`)))
	s.checkBinding(t)
}

// stolenAccessToken calls the API with the page's access token from Go: as
// a bearer token, and with a proof of another key.
func (s *spaSuite) stolenAccessToken(t *testing.T) {
	if !s.signedIn {
		t.Fatal("sign-in failed")
	}
	at, target := storedToken(t, s.tab, "access_token"), s.d.api+"/me"
	for name, c := range map[string]struct{ scheme, proof string }{
		"as a bearer token":        {"Bearer", ""},
		"with another key's proof": {"DPoP", thiefProof(t, http.MethodGet, target, at)},
	} {
		req, _ := http.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Authorization", c.scheme+" "+at)
		if c.proof != "" {
			req.Header.Set("DPoP", c.proof)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if ch := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(ch, "DPoP ") || !strings.Contains(ch, `error="invalid_token"`) {
			t.Errorf("the stolen access token %s: %d %q, want 401 with a DPoP invalid_token challenge", name, resp.StatusCode, ch)
		}
	}
}

func (s *spaSuite) callAcrossOrigins(t *testing.T) {
	if !s.signedIn {
		t.Fatal("sign-in failed")
	}
	status, answer := callAPI(t, s.tab, `#call-me`, "GET /me")
	if status != "200" || !strings.Contains(answer, s.user.ID) {
		t.Fatalf("GET /me: %s\n%s", status, answer)
	}
}

func (s *spaSuite) signOut(t *testing.T) {
	if !s.signedIn {
		t.Fatal("sign-in failed")
	}
	refresh := storedToken(t, s.tab, "refresh_token")
	webtest.Do(s.tab, t, wait, chromedp.Click(css(`#signout`)), chromedp.WaitVisible(css(`#signin`)))
	if loc := webtest.Get(s.tab, t, wait, chromedp.Location()); !strings.HasPrefix(loc, s.d.spa+"/") {
		t.Errorf("after sign-out the browser is at %s, not back at the SPA", loc)
	}
	status, answer := postForm(t, s.d.latch.URL+"/oauth2/token", url.Values{
		"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {s.d.spaClientID},
	}, "")
	if status != http.StatusBadRequest || answer != "invalid_grant" {
		t.Errorf("the signed-out refresh token got %d %q, want 400 invalid_grant", status, answer)
	}
	// latch's session ended: signing in again asks for the password.
	webtest.Do(s.tab, t, wait, chromedp.Click(css(`#signin`)), chromedp.WaitVisible(css(`input[name=password]`)))
}
