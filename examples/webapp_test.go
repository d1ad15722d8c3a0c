package examples_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web/webtest"
)

// TestWebApp drives the third-party web app in Chromium, registered with
// latch by itself at start: the first sign-in shows latch's consent page
// naming the app and the API, the app shows the user and the claims, and
// sign-out ends the app's session and latch's (RP-initiated logout). A
// callback the app did not expect shows an error page of the app's.
func TestWebApp(t *testing.T) {
	d := startDemo(t)
	user := d.latch.User(t, storage.RoleUser)
	tab := webtest.Tab(d.browser, t)
	signedIn := false
	t.Run("case=the first sign-in asks for consent, then the app shows the user and the claims", func(t *testing.T) {
		webtest.Do(tab, t, wait, chromedp.Navigate(d.webapp), chromedp.Click(css(`#signin`)))
		signIn(t, tab, user.Email)
		webtest.Do(tab, t, wait, chromedp.WaitVisible(css(`button[name=decision][value=allow]`)))
		consent := text(t, tab, "main")
		for _, want := range []string{"Demo Web App", "Demo API"} {
			if !strings.Contains(consent, want) {
				t.Errorf("the consent page does not name %q:\n%s", want, consent)
			}
		}
		webtest.Do(tab, t, wait, chromedp.Click(css(`button[name=decision][value=allow]`)), chromedp.WaitVisible(css(`#user`)))
		checkSignedIn(t, d, tab, user)
		signedIn = true
	})
	t.Run("case=sign-out ends the app's session and latch's", func(t *testing.T) {
		if !signedIn {
			t.Fatal("sign-in failed")
		}
		// Load waits for the page at the end of the redirects: the page
		// signed in has a #message too.
		webtest.Load(tab, t, wait, chromedp.Click(css(`#signout`)))
		webtest.Do(tab, t, wait, chromedp.WaitVisible(css(`#message`)))
		if msg := text(t, tab, `#message`); !strings.Contains(msg, "signed out") {
			t.Errorf("after sign-out the app says %q", msg)
		}
		// latch's session ended too: signing in asks for the password again.
		webtest.Do(tab, t, wait, chromedp.Click(css(`#signin`)), chromedp.WaitVisible(css(`input[name=password]`)))
	})
	t.Run("case=a callback the app did not start shows the app's error page", func(t *testing.T) {
		webtest.Do(tab, t, wait, chromedp.Navigate(d.webapp+"/callback?code=forged&state=forged"), chromedp.WaitVisible(css(`#error`)))
		if msg := text(t, tab, `#error`); !strings.Contains(msg, "does not belong to a sign-in started here") {
			t.Errorf("error page: %q", msg)
		}
	})
}

// checkSignedIn checks what the app's callback page shows of user.
func checkSignedIn(t *testing.T, d *demo, tab context.Context, user storage.User) {
	t.Helper()
	if got := text(t, tab, `#user`); !strings.Contains(got, user.Email) {
		t.Errorf("the app shows %q as the user", got)
	}
	if loc := webtest.Get(tab, t, wait, chromedp.Location()); !strings.HasPrefix(loc, d.webapp+"/callback") {
		t.Errorf("the sign-in ended at %s, not the app's callback page", loc)
	}
	if id := text(t, tab, `#id-claims`); !strings.Contains(id, user.ID) || !strings.Contains(id, `"nonce"`) {
		t.Errorf("ID token claims shown:\n%s", id)
	}
	if at := text(t, tab, `#access-claims`); !strings.Contains(at, d.api) || !strings.Contains(at, "api:read") {
		t.Errorf("access token claims shown:\n%s", at)
	}
}
