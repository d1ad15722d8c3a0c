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

	"github.com/latch-idp/latch/web/webtest"
)

// TestBrowserClientMetadataDocument signs in to a client identified by its
// metadata document in headless Chromium: the consent page shows the
// document's host and the notice that the client is not registered, and
// allowing gives the application a code it exchanges with PKCE.
func TestBrowserClientMetadataDocument(t *testing.T) {
	h := startDocHost(t)
	s := startWithDocuments(t, h, "127.0.0.1")
	u := s.user(t, "user")
	callbacks := make(chan url.Values, 1)
	var pending authRequest
	var rp *relyingParty
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/start":
			pending = rp.authURL(identityScopes, nil)
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
	rp = h.publishFor(s, "/browser/client.json", app.URL+"/callback")

	ctx := webtest.Browser(t)
	const wait = 20 * time.Second
	webtest.Do(ctx, t, wait,
		chromedp.Navigate(app.URL+"/start"),
		chromedp.WaitVisible(css(`input[name=email][autocomplete=username]`)),
		chromedp.SendKeys(css(`input[name=email]`), u.Email),
		chromedp.SendKeys(css(`input[name=password][autocomplete=current-password]`), testPassword),
		chromedp.Click(css(`button[type=submit]`)),
		chromedp.WaitVisible(css(`button[name=decision][value=allow]`)),
		chromedp.WaitVisible(css(`[data-unregistered-client]`)),
	)
	page := webtest.Get(ctx, t, wait, chromedp.Text(css("main")))
	for _, want := range []string{h.host() + " wants to access your account", "not registered with " + s.URL, "Continue only if you trust it"} {
		if !strings.Contains(page, want) {
			t.Errorf("the consent page does not show %q:\n%s", want, page)
		}
	}
	webtest.Do(ctx, t, wait, chromedp.Click(css(`button[name=decision][value=allow]`)), chromedp.WaitVisible(css(`#done`)))
	var q url.Values
	select {
	case q = <-callbacks:
	case <-time.After(wait):
		t.Fatal("the application got no callback")
	}
	if q.Get("state") != pending.State || q.Get("iss") != s.URL || q.Get("code") == "" {
		t.Fatalf("callback: %v", q)
	}
	tok := rp.exchange(t, q.Get("code"), pending)
	mustEqual(t, "ID token aud", strings.Join(tok.IDToken.Audience, " "), rp.client.ID)
}
