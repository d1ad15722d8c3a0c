package webtest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/web/webtest"
)

const (
	email = "margaret@example.com"
	pw    = "hamilton apollo guidance 1969"
)

type css = chromedp.CSS

// TestBrowser drives the real pages in headless Chromium: a password
// sign-in for an app with consent, TOTP enrollment from the account page,
// and a sign-in with the TOTP code.
func TestBrowser(t *testing.T) {
	e := webtest.New(t, webtest.Options{Registration: true})
	u := e.CreateUser(t, email, pw, nil)
	ctx := webtest.Browser(t)
	const wait = 30 * time.Second

	t.Run("case=password sign-in and consent allow resume the flow", func(t *testing.T) {
		f := e.StartFlow(t, webtest.ThirdParty+"printer", []string{"openid", "email"}, func(f *flow.Flow) {
			f.ClientName = "Photo Printer"
			f.LoginHint = email
		})
		webtest.Do(ctx, t, wait,
			chromedp.Navigate(e.URL+"/login?flow="+f.ID),
			chromedp.WaitVisible(css(`input[name=password][autocomplete=current-password]`)),
		)
		// The stylesheet loads under the page's CSP (no inline styles).
		if r := webtest.Get(ctx, t, wait, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("main")).borderTopLeftRadius`)); r != "12px" {
			t.Errorf("stylesheet not applied: main border radius %q", r)
		}
		webtest.Do(ctx, t, wait,
			chromedp.SetValue(css(`input[name=email][autocomplete=username]`), email),
			chromedp.SendKeys(css(`input[name=password]`), pw),
			chromedp.Click(css(`button[type=submit]`)),
			chromedp.WaitVisible(css(`button[name=decision][value=allow]`)),
		)
		consentText := webtest.Get(ctx, t, wait, chromedp.Text(css("main")))
		if !strings.Contains(consentText, "Photo Printer") || !strings.Contains(consentText, "Your email address") {
			t.Errorf("consent page text: %s", consentText)
		}
		// The fake provider answers the finished flow as JSON, which
		// Chromium shows in a <pre>.
		webtest.Do(ctx, t, wait,
			chromedp.Click(css(`button[name=decision][value=allow]`)),
			chromedp.WaitReady(css(`body > pre`)),
		)
		result := webtest.Get(ctx, t, wait, chromedp.Text(css(`body > pre`)))
		var res webtest.Result
		if err := json.Unmarshal([]byte(result), &res); err != nil {
			t.Fatalf("result %q: %v", result, err)
		}
		if res.Flow.UserID != u.ID || !res.Flow.Consented || strings.Join(res.Flow.GrantedScopes, " ") != "openid email" {
			t.Errorf("flow = %+v", res.Flow)
		}
		if _, err := e.Store.GetConsent(t.Context(), u.ID, f.ClientID); err != nil {
			t.Errorf("consent not saved: %v", err)
		}
	})

	var secret string
	t.Run("case=TOTP enrollment from the account page", func(t *testing.T) {
		webtest.Do(ctx, t, wait,
			chromedp.Navigate(e.URL+"/account"),
			chromedp.WaitVisible(css(`a[href="/account/totp"]`)),
			chromedp.Click(css(`a[href="/account/totp"]`)),
			chromedp.WaitVisible(css(`[data-totp-secret]`)),
			chromedp.WaitVisible(css(`img.qr`)),
		)
		secret = webtest.Get(ctx, t, wait, chromedp.AttributeValue(css(`[data-totp-secret]`), "data-totp-secret")).Value
		if secret == "" {
			t.Fatal("no secret")
		}
		// The inline QR code loads under the page's CSP.
		if w := webtest.Get(ctx, t, wait, chromedp.Evaluate[int](`document.querySelector("img.qr").naturalWidth`)); w == 0 {
			t.Error("the QR code did not load")
		}
		webtest.Do(ctx, t, wait,
			chromedp.SendKeys(css(`input[name=code]`), webtest.Code(t, secret, 0)),
			chromedp.Click(css(`form[action="/account/totp"] button[type=submit]`)),
			chromedp.WaitVisible(css(`[data-backup-code]`)),
		)
		codes := webtest.Get(ctx, t, wait, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("[data-backup-code]")).map(e => e.getAttribute("data-backup-code"))`))
		if len(codes) != 10 {
			t.Errorf("%d backup codes shown", len(codes))
		}
		if !e.User(t, u.ID).TOTPEnabled() {
			t.Error("TOTP not enabled")
		}
	})

	t.Run("case=sign out, then sign in with password and TOTP", func(t *testing.T) {
		if secret == "" {
			t.Fatal("enrollment failed")
		}
		webtest.Do(ctx, t, wait,
			chromedp.Navigate(e.URL+"/account"),
			chromedp.WaitVisible(css(`form[action="/account/signout"] button`)),
			chromedp.Click(css(`form[action="/account/signout"] button`)),
			chromedp.WaitVisible(css(`input[name=password]`)),
			chromedp.SendKeys(css(`input[name=email]`), email),
			chromedp.SendKeys(css(`input[name=password]`), pw),
			chromedp.Click(css(`button[type=submit]`)),
			chromedp.WaitVisible(css(`input[name=code][autocomplete=one-time-code]`)),
			// The enrollment used this step's code: the next one is due.
			chromedp.SendKeys(css(`input[name=code]`), webtest.Code(t, secret, 30*time.Second)),
			chromedp.Click(css(`button[type=submit]`)),
			chromedp.WaitVisible(css(`#password-heading`)),
		)
		if h := webtest.Get(ctx, t, wait, chromedp.Text(css("h1"))); h != "Your account" {
			t.Errorf("landed on %q", h)
		}
		sessions, _ := e.Sessions.List(t.Context(), u.ID)
		if len(sessions) != 1 || strings.Join(sessions[0].AMR, " ") != "pwd otp" {
			t.Errorf("sessions = %+v", sessions)
		}
	})
}
