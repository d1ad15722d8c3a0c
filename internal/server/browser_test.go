package server

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/web/webtest"
)

type css = chromedp.CSS

// signInWithCode answers the sign-in page with the email and the test
// password, and the second step with a current TOTP code.
func signInWithCode(t testing.TB, email, totpSecret string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(css(`input[name=email][autocomplete=username]`)),
		chromedp.SendKeys(css(`input[name=email]`), email),
		chromedp.SendKeys(css(`input[name=password][autocomplete=current-password]`), testPassword),
		chromedp.Click(css(`button[type=submit]`)),
		chromedp.WaitVisible(css(`input[name=code][autocomplete=one-time-code]`)),
		chromedp.SendKeys(css(`input[name=code]`), webtest.Code(t, totpSecret, 0)),
		chromedp.Click(css(`button[type=submit]`)),
	)
}

// TestBrowserSignIn drives a third-party sign-in in headless Chromium
// through the real server: the application redirects to latch, the user
// enters a password and a TOTP code and consents, and the application gets a
// code that it exchanges for tokens go-oidc accepts. A second sign-in finds
// the session and the remembered consent; prompt=consent and a deny send
// access_denied back.
func TestBrowserSignIn(t *testing.T) {
	s := startServer(t, nil)
	u := s.user(t, "user")
	totpSecret := s.enableTOTP(t, u.ID)

	// The application: /start sends the browser to latch; /callback hands
	// what came back to the test.
	callbacks := make(chan url.Values, 1)
	var pending authRequest
	var rp *relyingParty
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/start":
			params := map[string]string{}
			if p := r.URL.Query().Get("prompt"); p != "" {
				params["prompt"] = p
			}
			pending = rp.authURL([]string{"openid", "profile", "email"}, params)
			http.Redirect(w, r, pending.URL, http.StatusFound)
		case "/callback":
			callbacks <- r.URL.Query()
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `<!doctype html><p id="done">back at the application</p>`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer app.Close()
	rp = s.client(t, clients.Metadata{
		ClientName: "Browser Test App", RedirectURIs: []string{app.URL + "/callback"},
		Scope: "openid profile email", TokenEndpointAuthMethod: "client_secret_basic",
	})

	ctx := webtest.Browser(t)
	const wait = 20 * time.Second
	callback := func(t *testing.T) url.Values {
		t.Helper()
		webtest.Do(ctx, t, wait, chromedp.WaitVisible(css(`#done`)))
		select {
		case q := <-callbacks:
			return q
		case <-time.After(wait):
			t.Fatal("the application got no callback")
			return nil
		}
	}

	t.Run("case=password, TOTP and consent in the browser", func(t *testing.T) {
		webtest.Do(ctx, t, wait,
			chromedp.Navigate(app.URL+"/start"),
			signInWithCode(t, u.Email, totpSecret),
			chromedp.WaitVisible(css(`button[name=decision][value=allow]`)),
		)
		page := webtest.Get(ctx, t, wait, chromedp.Text(css("main")))
		for _, want := range []string{"Browser Test App", "Your email address"} {
			if !strings.Contains(page, want) {
				t.Errorf("the consent page does not show %q:\n%s", want, page)
			}
		}
		webtest.Do(ctx, t, wait, chromedp.Click(css(`button[name=decision][value=allow]`)))
		q := callback(t)
		if q.Get("state") != pending.State || q.Get("iss") != s.URL || q.Get("code") == "" {
			t.Fatalf("callback: %v", q)
		}
		tok := rp.exchange(t, q.Get("code"), pending)
		if claim(tok.Claims, "email") != u.Email || !strings.Contains(fmt.Sprint(tok.Claims["amr"]), "otp") {
			t.Fatalf("ID token claims: %v", tok.Claims)
		}
	})
	t.Run("case=a second sign-in uses the session and the remembered consent", func(t *testing.T) {
		webtest.Do(ctx, t, wait, chromedp.Navigate(app.URL+"/start"))
		q := callback(t)
		if q.Get("code") == "" || q.Get("state") != pending.State {
			t.Fatalf("callback: %v", q)
		}
		rp.exchange(t, q.Get("code"), pending)
	})
	t.Run("case=prompt=consent asks again and deny returns access_denied", func(t *testing.T) {
		webtest.Do(ctx, t, wait,
			chromedp.Navigate(app.URL+"/start?prompt=consent"),
			chromedp.WaitVisible(css(`button[name=decision][value=deny]`)),
			chromedp.Click(css(`button[name=decision][value=deny]`)),
		)
		q := callback(t)
		if q.Get("error") != "access_denied" || q.Get("iss") != s.URL || q.Get("code") != "" {
			t.Fatalf("callback: %v", q)
		}
	})
}
