package server

import (
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/web/webtest"
)

// TestBrowserPagesAreAccessible runs axe-core (WCAG 2.1 A and AA) on every
// page a user meets, in Chromium, in the light and the dark colour
// scheme: sign-in (empty and after a failure), registration, password
// reset, the second step, consent, the account page, TOTP set-up and the
// error page.
func TestBrowserPagesAreAccessible(t *testing.T) {
	s := startServer(t, func(c *Config) { c.Issuer = issuerLocalhost })
	u := s.user(t, "user")
	totpUser := s.user(t, "user")
	s.enableTOTP(t, totpUser.ID)
	app := newPasskeyApp(t, s)
	third := s.client(t, clients.Metadata{
		ClientName: "Third Party", RedirectURIs: []string{app.URL + "/callback"},
		Scope: "openid email", TokenEndpointAuthMethod: "client_secret_basic",
	})
	browser := webtest.Browser(t)
	for _, scheme := range []string{"light", "dark"} {
		t.Run("scheme="+scheme, func(t *testing.T) {
			ctx := webtest.Tab(browser, t)
			if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
				Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
			}); err != nil {
				t.Fatal(err)
			}
			check := func(what, path string, steps ...chromedp.Action[chromedp.Void]) {
				t.Helper()
				webtest.Do(ctx, t, passkeyWait, append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(s.URL + path)}, steps...)...)
				webtest.Accessible(ctx, t, what)
			}
			check("sign-in", "/login")
			check("sign-in after a failure", "/login",
				chromedp.SendKeys(css(`input[name=email]`), u.Email),
				chromedp.SendKeys(css(`input[name=password]`), "not the password"),
				chromedp.Click(css(`button[type=submit]`)),
				chromedp.WaitVisible(css(`#login-error`)),
			)
			check("registration", "/register")
			check("forgot password", "/forgot")
			check("error page", "/login?flow=no-such-flow")
			check("second step", "/login", chromedp.SendKeys(css(`input[name=email]`), totpUser.Email),
				chromedp.SendKeys(css(`input[name=password]`), testPassword),
				chromedp.Click(css(`button[type=submit]`)),
				chromedp.WaitVisible(css(`input[name=code]`)),
			)
			check("account", "/login", chromedp.SendKeys(css(`input[name=email]`), u.Email),
				chromedp.SendKeys(css(`input[name=password]`), testPassword),
				chromedp.Click(css(`button[type=submit]`)),
				chromedp.WaitVisible(css(`button[name=passkey][value=register]`)),
			)
			check("TOTP set-up", "/account/totp", chromedp.WaitVisible(css(`[data-totp-secret]`)))
			ar := third.authURL([]string{"openid", "email"}, nil)
			webtest.Do(ctx, t, passkeyWait, chromedp.Navigate(ar.URL), chromedp.WaitVisible(css(`button[name=decision][value=allow]`)))
			webtest.Accessible(ctx, t, "consent")
		})
	}
}
