package server

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/pquerna/otp/totp"

	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web/webtest"
)

// TestBrowserConsole drives the admin console in headless Chromium on a
// phone-sized screen, with the keyboard only: an administrator with a
// second factor signs in, registers a client and reads its secret; a user
// who is no administrator is refused.
func TestBrowserConsole(t *testing.T) {
	s := startServer(t, nil)
	admin := s.user(t, storage.RoleAdmin)
	secret := s.enableTOTP(t, admin.ID)
	ctx := webtest.Browser(t)
	const wait = 20 * time.Second
	webtest.Do(ctx, t, wait, chromedp.EmulateViewport(390, 844))

	t.Run("case=sign in with password and code, keyboard only", func(t *testing.T) {
		webtest.Do(ctx, t, wait,
			chromedp.Navigate(s.URL+"/admin"),
			chromedp.WaitVisible(css(`input[name=email][autocomplete=username]`)),
			chromedp.Focus(css(`input[name=email]`)),
			chromedp.KeyEvent(admin.Email+kb.Tab+testPassword+kb.Enter),
			chromedp.WaitVisible(css(`input[name=code][autocomplete=one-time-code]`)),
		)
		code, err := totp.GenerateCode(secret, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		webtest.Do(ctx, t, wait, chromedp.Focus(css(`input[name=code]`)), chromedp.KeyEvent(code+kb.Enter), chromedp.WaitVisible(css(`nav ul.console-nav`)))
	})
	t.Run("case=register a client with the keyboard and see its secret once", func(t *testing.T) {
		webtest.Do(ctx, t, wait,
			chromedp.Navigate(s.URL+"/admin/ui/clients"),
			chromedp.WaitVisible(css(`#client_name`)),
			chromedp.Focus(css(`#client_name`)),
			// name, redirect URIs, four grant checkboxes, the method, the
			// scopes; Enter in a text field submits the form.
			chromedp.KeyEvent("Phone app"+kb.Tab+"https://phone.example.com/cb"+kb.Tab+kb.Tab+kb.Tab+kb.Tab+kb.Tab+kb.Tab+kb.Enter),
			chromedp.WaitVisible(css(`output[data-client-secret]`)),
		)
		page := webtest.Get(ctx, t, wait, chromedp.Text(css("main")))
		if !strings.Contains(page, "Phone app") || !strings.Contains(page, "shown this once") {
			t.Fatalf("client page:\n%s", page)
		}
		if !webtest.Get(ctx, t, wait, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`)) {
			t.Error("the page is wider than a phone's screen")
		}
	})
	t.Run("case=the console's pages pass axe-core", func(t *testing.T) {
		webtest.Accessible(ctx, t, "client page")
		for _, path := range []string{"/admin/ui/clients", "/admin/ui/resources", "/admin/ui/users", "/admin/ui/users/" + admin.ID, "/admin/ui/keys", "/admin/ui/audit"} {
			webtest.Do(ctx, t, wait, chromedp.Navigate(s.URL+path), chromedp.WaitVisible(css(`nav ul.console-nav`)))
			webtest.Accessible(ctx, t, path)
		}
	})
	t.Run("case=a user who is no administrator is refused", func(t *testing.T) {
		user := s.user(t, storage.RoleUser)
		other := webtest.Browser(t) // a browser of its own: no administrator's session
		webtest.Do(other, t, wait,
			chromedp.Navigate(s.URL+"/admin"),
			chromedp.WaitVisible(css(`input[name=email]`)),
			chromedp.SendKeys(css(`input[name=email]`), user.Email),
			chromedp.SendKeys(css(`input[name=password]`), testPassword),
			chromedp.Click(css(`button[type=submit]`)),
			chromedp.WaitVisible(css(`[role=alert]`)),
		)
		if page := webtest.Get(other, t, wait, chromedp.Text(css("main"))); !strings.Contains(page, "for administrators") {
			t.Fatalf("a user at the console sees:\n%s", page)
		}
	})
}
