package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/web/webtest"
)

const passkeyWait = 20 * time.Second

// passkeyApp is a relying party whose /start sends the browser to latch
// with the extra authorization parameters of the query, and whose
// /callback hands what came back to the test.
type passkeyApp struct {
	*httptest.Server
	rp        *relyingParty
	pending   authRequest
	callbacks chan url.Values
}

func newPasskeyApp(t *testing.T, s *testServer) *passkeyApp {
	t.Helper()
	a := &passkeyApp{callbacks: make(chan url.Values, 1)}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/start":
			params := map[string]string{}
			for k := range r.URL.Query() {
				params[k] = r.URL.Query().Get(k)
			}
			a.pending = a.rp.authURL([]string{"openid", "email"}, params)
			http.Redirect(w, r, a.pending.URL, http.StatusFound)
		case "/callback":
			a.callbacks <- r.URL.Query()
			fmt.Fprint(w, `<!doctype html><p id="done">back at the application</p>`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(a.Close)
	a.rp = s.client(t, clients.Metadata{
		ClientName: "Passkey App", RedirectURIs: []string{a.URL + "/callback"}, FirstParty: true,
		Scope: "openid email", TokenEndpointAuthMethod: "client_secret_basic",
	})
	return a
}

// idToken waits for the callback and exchanges its code.
func (a *passkeyApp) idToken(ctx context.Context, t *testing.T) map[string]any {
	t.Helper()
	webtest.Do(ctx, t, passkeyWait, chromedp.WaitVisible(css(`#done`)))
	select {
	case q := <-a.callbacks:
		if q.Get("code") == "" {
			t.Fatalf("callback without a code: %v", q)
		}
		return a.rp.exchange(t, q.Get("code"), a.pending).Claims
	case <-time.After(passkeyWait):
		t.Fatal("the application got no callback")
		return nil
	}
}

// signInWithPassword signs in on latch's sign-in page, which the tab shows.
func signInWithPassword(ctx context.Context, t *testing.T, email string) {
	t.Helper()
	webtest.Do(ctx, t, passkeyWait,
		chromedp.WaitVisible(css(`input[name=email][autocomplete=username]`)),
		chromedp.SendKeys(css(`input[name=email]`), email),
		chromedp.SendKeys(css(`input[name=password][autocomplete=current-password]`), testPassword),
		chromedp.Click(css(`button[type=submit]`)),
	)
}

// signOut ends the tab's session from the account page.
func signOut(ctx context.Context, t *testing.T, s *testServer) {
	t.Helper()
	webtest.Do(ctx, t, passkeyWait,
		chromedp.Navigate(s.URL+"/account"),
		chromedp.WaitVisible(css(`form[action="/account/signout"] button`)),
		chromedp.Click(css(`form[action="/account/signout"] button`)),
		chromedp.WaitVisible(css(`button[name=passkey][value=signin]`)),
	)
}

func mainText(ctx context.Context, t *testing.T) string {
	t.Helper()
	return webtest.Get(ctx, t, passkeyWait, chromedp.Text(css("main")))
}

// TestBrowserPasskeys registers a passkey on the account page with a
// virtual authenticator in Chromium, then signs in with it: as the second
// step after the password, without a password, and for an app whose
// acr_values require a passkey, whose ID token then says so. A tampered
// signature and a removed passkey are refused.
func TestBrowserPasskeys(t *testing.T) {
	s := startServer(t, func(c *Config) { c.Issuer = issuerLocalhost })
	u := s.user(t, "user")
	app := newPasskeyApp(t, s)
	ctx := webtest.Tab(webtest.Browser(t), t)
	authenticator := webtest.VirtualAuthenticator(ctx, t, false)

	t.Run("case=register a passkey on the account page", func(t *testing.T) {
		webtest.Do(ctx, t, passkeyWait, chromedp.Navigate(s.URL+"/account"))
		signInWithPassword(ctx, t, u.Email)
		webtest.Do(ctx, t, passkeyWait,
			chromedp.WaitVisible(css(`button[name=passkey][value=register]`)),
			chromedp.SendKeys(css(`input[name=passkey_name]`), "Test laptop"),
			chromedp.Click(css(`button[name=passkey][value=register]`)),
			chromedp.WaitVisible(css(`li[data-passkey-id] button[name=passkey_remove]`)),
		)
		if page := mainText(ctx, t); !strings.Contains(page, "Your passkey was added") || !strings.Contains(page, "Test laptop") {
			t.Fatalf("account page after registration:\n%s", page)
		}
	})
	t.Run("case=a passkey as the second step", func(t *testing.T) {
		signOut(ctx, t, s)
		signInWithPassword(ctx, t, u.Email)
		webtest.Do(ctx, t, passkeyWait,
			chromedp.WaitVisible(css(`button[name=passkey][value=verify]`)),
			chromedp.Click(css(`button[name=passkey][value=verify]`)),
			chromedp.WaitVisible(css(`button[name=passkey][value=register]`)),
		)
	})
	t.Run("case=passwordless sign-in", func(t *testing.T) {
		signOut(ctx, t, s)
		webtest.Do(ctx, t, passkeyWait,
			chromedp.Click(css(`button[name=passkey][value=signin]`)),
			chromedp.WaitVisible(css(`button[name=passkey][value=register]`)),
		)
	})
	t.Run("case=an app requiring a passkey gets acr and amr saying so", func(t *testing.T) {
		signOut(ctx, t, s)
		webtest.Do(ctx, t, passkeyWait, chromedp.Navigate(app.URL+"/start?acr_values=phr"))
		if page := mainText(ctx, t); !strings.Contains(page, "asks you to sign in with a passkey") {
			t.Errorf("the sign-in page does not say the app asks for a passkey:\n%s", page)
		}
		webtest.Do(ctx, t, passkeyWait, chromedp.Click(css(`button[name=passkey][value=signin]`)))
		claims := app.idToken(ctx, t)
		amr, _ := claims["amr"].([]any)
		if claims["acr"] != "phrh" || !slices.Contains(amr, any("hwk")) || claims["email"] != u.Email {
			t.Fatalf("ID token claims %v, want acr phrh and amr with hwk", claims)
		}
	})
	t.Run("case=a tampered signature is refused", func(t *testing.T) {
		signOut(ctx, t, s)
		webtest.BogusSignatures(ctx, t, authenticator, true)
		webtest.Do(ctx, t, passkeyWait,
			chromedp.Click(css(`button[name=passkey][value=signin]`)),
			chromedp.WaitVisible(css(`#login-error`)),
		)
		if page := mainText(ctx, t); !strings.Contains(page, "could not be used") {
			t.Fatalf("after a tampered assertion:\n%s", page)
		}
		webtest.BogusSignatures(ctx, t, authenticator, false)
	})
	t.Run("case=a removed passkey no longer signs in", func(t *testing.T) {
		webtest.Do(ctx, t, passkeyWait, chromedp.Navigate(s.URL+"/account"))
		signInWithPassword(ctx, t, u.Email)
		webtest.Do(ctx, t, passkeyWait,
			chromedp.Click(css(`button[name=passkey][value=verify]`)),
			chromedp.WaitVisible(css(`button[name=passkey_remove]`)),
			chromedp.Click(css(`button[name=passkey_remove]`)),
			chromedp.WaitVisible(css(`p.notice`)),
		)
		if n := webtest.Get(ctx, t, passkeyWait, chromedp.Evaluate[int](`document.querySelectorAll("[data-passkey-id]").length`)); n != 0 {
			t.Fatalf("%d passkeys listed after removing the only one", n)
		}
		signOut(ctx, t, s)
		webtest.Do(ctx, t, passkeyWait,
			chromedp.Click(css(`button[name=passkey][value=signin]`)),
			chromedp.WaitVisible(css(`#login-error`)),
		)
	})
}

// TestBrowserTOTPUsersWithPasskeysOn: with passkeys on, an account with
// TOTP and no passkey signs in as before, with its code.
func TestBrowserTOTPUsersWithPasskeysOn(t *testing.T) {
	s := startServer(t, func(c *Config) { c.Issuer = issuerLocalhost })
	u := s.user(t, "user")
	secret := s.enableTOTP(t, u.ID)
	ctx := webtest.Tab(webtest.Browser(t), t)
	webtest.Do(ctx, t, passkeyWait, chromedp.Navigate(s.URL+"/account"))
	signInWithPassword(ctx, t, u.Email)
	webtest.Do(ctx, t, passkeyWait, chromedp.WaitVisible(css(`input[name=code][autocomplete=one-time-code]`)))
	if n := webtest.Get(ctx, t, passkeyWait, chromedp.Evaluate[int](`document.querySelectorAll("button[name=passkey]").length`)); n != 0 {
		t.Errorf("the code page of an account without a passkey offers one (%d buttons)", n)
	}
	webtest.Do(ctx, t, passkeyWait,
		chromedp.SendKeys(css(`input[name=code]`), webtest.Code(t, secret, 0)),
		chromedp.Click(css(`button[type=submit]`)),
		chromedp.WaitVisible(css(`button[name=passkey][value=register]`)),
	)
}
