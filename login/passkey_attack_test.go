package login_test

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/latch-idp/latch/web/webtest"
)

// Hostile answers to the passkey endpoints get a readable 4xx page, never
// a 5xx, and sign nobody in.
func TestAttackPasskeyHostileAnswers(t *testing.T) {
	e := webtest.New(t, webtest.Options{Localhost: true})
	passkeyUser(t, e)
	answers := map[string]string{
		"not JSON":            "{",
		"empty object":        "{}",
		"huge":                `{"id":"` + strings.Repeat("A", 60000) + `"}`,
		"wrong type":          `{"id":"x","rawId":"x","type":"password","response":{}}`,
		"attestation as get":  `{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`,
		"nulls":               `{"id":null,"rawId":null,"type":null,"response":null}`,
		"bad base64":          `{"id":"!!","rawId":"!!","type":"public-key","response":{"clientDataJSON":"!!","authenticatorData":"!!","signature":"!!"}}`,
		"deeply nested":       strings.Repeat("[", 5000) + strings.Repeat("]", 5000),
		"unicode in ceremony": `{}`,
	}
	c := e.NewClient()
	for name, answer := range answers {
		r := c.Submit(t, "/login/passkey", url.Values{"ceremony": {"ü\x00" + name}, "credential": {answer}})
		if r.Status >= 500 || r.Status < 400 {
			t.Errorf("passwordless, %s: status %d", name, r.Status)
		}
	}
	webtest.MustRedirect(t, c.Login(t, email, pw), "/login/code")
	for name, answer := range answers {
		o := passkeyOptions(t, c, "/login/code/passkey/options", url.Values{"passkey": {"verify"}})
		r := c.Submit(t, "/login/code/passkey", url.Values{"ceremony": {o.Ceremony}, "credential": {answer}})
		if r.Status >= 500 || r.Status < 400 {
			t.Errorf("second step, %s: status %d", name, r.Status)
		}
		if r.Status == http.StatusTooManyRequests {
			break // the attempt limit locks the account's second step: as it should
		}
	}
}

// Many parallel presentations of one valid assertion: one signs in.
func TestAttackPasskeyAssertionRace(t *testing.T) {
	e := webtest.New(t, webtest.Options{Localhost: true})
	auth := passkeyUser(t, e)
	c := e.NewClient()
	o := passkeyOptions(t, c, "/login/passkey/options", url.Values{"passkey": {"signin"}})
	answer, _ := auth.Get(o.Options, nil)
	form := url.Values{"ceremony": {o.Ceremony}, "credential": {string(answer)}, "csrf_token": {c.CSRF(t)}}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.Post(t, "/login/passkey", form)
			switch {
			case r.Status == http.StatusSeeOther && r.Location == "/account":
				wins.Add(1)
			case r.Status >= 500:
				t.Errorf("status %d", r.Status)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d of 10 parallel presentations of one assertion signed in, want 1", wins.Load())
	}
}

// The options endpoints are forms of latch's own pages: without the CSRF
// token they give nothing.
func TestAttackPasskeyOptionsNeedTheCSRFToken(t *testing.T) {
	e := webtest.New(t, webtest.Options{Localhost: true})
	c := e.NewClient()
	for _, path := range []string{"/login/passkey/options", "/login/code/passkey/options", "/account/passkeys/options"} {
		if r := c.Post(t, path, url.Values{"passkey": {"signin"}}); r.Status != http.StatusForbidden || strings.Contains(r.Body, "challenge") {
			t.Errorf("%s without a CSRF token: %d", path, r.Status)
		}
	}
}
