package account_test

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web/webtest"
)

const (
	email = "alan@example.com"
	pw    = "turing bombe enigma 1940"
)

func signedIn(t *testing.T, e *webtest.Env) (*webtest.Client, storage.User) {
	t.Helper()
	u := e.CreateUser(t, email, pw, nil)
	c := e.NewClient()
	webtest.MustRedirect(t, c.Login(t, email, pw), "/account")
	return c, u
}

func TestAccountNeedsASession(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	c := e.NewClient()
	webtest.MustRedirect(t, c.Get(t, "/account"), "/login?return_to=/account")
	webtest.MustRedirect(t, c.Get(t, "/account/totp"), "/login?return_to=/account")
	webtest.MustRedirect(t, c.Submit(t, "/account/password", url.Values{"current_password": {pw}, "new_password": {"x"}}), "/login?return_to=/account")
	// The sign-in page brings the user back.
	e.CreateUser(t, email, pw, nil)
	login := c.Get(t, "/login?return_to=/account")
	if !strings.Contains(login.Body, `name="return_to" value="/account"`) {
		t.Fatal("login page drops return_to")
	}
	webtest.MustRedirect(t, c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "return_to": {"/account"}}), "/account")
	webtest.MustStatus(t, c.Get(t, "/account"), http.StatusOK)
}

// enroll sets up TOTP through the pages and returns the secret and the
// backup codes shown.
func enroll(t *testing.T, e *webtest.Env, c *webtest.Client) (string, []string) {
	t.Helper()
	page := c.Get(t, "/account/totp")
	webtest.MustStatus(t, page, http.StatusOK)
	secrets := webtest.Attr(page.Body, "data-totp-secret")
	pending := webtest.Attr(page.Body, `name="pending" value`)
	if len(secrets) != 1 || len(pending) != 1 {
		t.Fatalf("set-up page lacks the secret or the pending state:\n%s", page.Body)
	}
	if !strings.Contains(page.Body, `src="data:image/png;base64,`) {
		t.Error("no inline QR code")
	}
	wrong := c.Submit(t, "/account/totp", url.Values{"pending": pending, "code": {"123456"}})
	webtest.MustStatus(t, wrong, http.StatusBadRequest)
	if got := webtest.Attr(wrong.Body, "data-totp-secret"); len(got) != 1 || got[0] != secrets[0] {
		t.Fatal("a wrong code changed the secret")
	}
	done := c.Submit(t, "/account/totp", url.Values{"pending": pending, "code": {webtest.Code(t, secrets[0], 0)}})
	webtest.MustStatus(t, done, http.StatusOK)
	codes := webtest.Attr(done.Body, "data-backup-code")
	if len(codes) != 10 {
		t.Fatalf("%d backup codes shown, want 10", len(codes))
	}
	return secrets[0], codes
}

func TestTOTP(t *testing.T) {
	t.Run("case=enrollment needs a valid code, then sign-in asks for one", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, u := signedIn(t, e)
		secret, codes := enroll(t, e, c)
		if !e.User(t, u.ID).TOTPEnabled() {
			t.Fatal("TOTP not enabled")
		}
		if n, _ := e.Store.CountBackupCodes(t.Context(), u.ID); n != 10 {
			t.Errorf("%d backup codes stored", n)
		}
		m := e.LastMail(t, email, "totp_enabled")
		if m.Data["at"] == "" || m.Data["ip"] != "127.0.0.1" {
			t.Errorf("notice data %v", m.Data)
		}
		c2 := e.NewClient()
		webtest.MustRedirect(t, c2.Login(t, email, pw), "/login/code")
		webtest.MustRedirect(t, c2.Submit(t, "/login/code", url.Values{"code": {webtest.Code(t, secret, 30*time.Second)}}), "/account")
		c3 := e.NewClient()
		webtest.MustRedirect(t, c3.Login(t, email, pw), "/login/code")
		webtest.MustRedirect(t, c3.Submit(t, "/login/code", url.Values{"code": {codes[0]}}), "/account")
	})

	t.Run("case=a pending set-up cannot be confirmed by another user", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, _ := signedIn(t, e)
		page := c.Get(t, "/account/totp")
		secret := webtest.Attr(page.Body, "data-totp-secret")[0]
		pending := webtest.Attr(page.Body, `name="pending" value`)
		e.CreateUser(t, "mallory@example.com", pw, nil)
		m := e.NewClient()
		webtest.MustRedirect(t, m.Login(t, "mallory@example.com", pw), "/account")
		webtest.MustStatus(t, m.Submit(t, "/account/totp", url.Values{"pending": pending, "code": {webtest.Code(t, secret, 0)}}), http.StatusBadRequest)
	})

	t.Run("case=turning it off needs a current code and sends a notice", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, u := signedIn(t, e)
		secret, _ := enroll(t, e, c)
		r := c.Submit(t, "/account/totp/disable", url.Values{"code": {"000000"}})
		webtest.MustStatus(t, r, http.StatusBadRequest)
		if !strings.Contains(r.Body, `id="disable-code-error"`) {
			t.Error("no error tied to the code field")
		}
		webtest.MustRedirect(t, c.Submit(t, "/account/totp/disable", url.Values{"code": {webtest.Code(t, secret, 30*time.Second)}}), "/account?done=totp_off")
		if e.User(t, u.ID).TOTPEnabled() {
			t.Fatal("TOTP still on")
		}
		e.LastMail(t, email, "totp_disabled")
		webtest.MustRedirect(t, e.NewClient().Login(t, email, pw), "/account")
	})

	t.Run("case=regenerated backup codes replace the old ones", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, _ := signedIn(t, e)
		secret, old := enroll(t, e, c)
		r := c.Submit(t, "/account/backup-codes", url.Values{"code": {webtest.Code(t, secret, 30*time.Second)}})
		webtest.MustStatus(t, r, http.StatusOK)
		fresh := webtest.Attr(r.Body, "data-backup-code")
		if len(fresh) != 10 {
			t.Fatalf("%d codes", len(fresh))
		}
		e.LastMail(t, email, "backup_codes_regenerated")
		c2 := e.NewClient()
		webtest.MustRedirect(t, c2.Login(t, email, pw), "/login/code")
		webtest.MustStatus(t, c2.Submit(t, "/login/code", url.Values{"code": {old[0]}}), http.StatusUnauthorized)
		webtest.MustRedirect(t, c2.Submit(t, "/login/code", url.Values{"code": {fresh[0]}}), "/account")
		// Shown once: the account page never shows them again.
		if page := c.Get(t, "/account"); strings.Contains(page.Body, "data-backup-code") {
			t.Error("account page shows backup codes")
		}
	})
}

// A session cookie alone must not mint a new second factor: making new
// backup codes asks for the app's current code.
func TestNewBackupCodesNeedACurrentTOTPCode(t *testing.T) {
	t.Run("case=without a valid TOTP code nothing changes", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, u := signedIn(t, e)
		secret, old := enroll(t, e, c)
		for _, tc := range []struct{ name, code string }{
			{"no code", ""},
			{"a wrong code", "000000"},
			// A leaked backup code must not turn into ten fresh ones.
			{"a backup code", old[0]},
			// enroll's confirming code: accepted once, never again.
			{"a replayed code", webtest.Code(t, secret, 0)},
		} {
			r := c.Submit(t, "/account/backup-codes", url.Values{"code": {tc.code}})
			if r.Status != http.StatusBadRequest {
				t.Fatalf("%s: status %d, want 400", tc.name, r.Status)
			}
			if !strings.Contains(r.Body, `aria-describedby="codes-code-hint codes-code-error"`) || !strings.Contains(r.Body, `id="codes-code-error"`) {
				t.Errorf("%s: no error tied to the code field", tc.name)
			}
			if got := webtest.Attr(r.Body, "data-backup-code"); len(got) != 0 {
				t.Fatalf("%s: %d backup codes shown", tc.name, len(got))
			}
		}
		if n, _ := e.Store.CountBackupCodes(t.Context(), u.ID); n != 10 {
			t.Errorf("%d backup codes left, want the 10 from enrollment (the backup code offered must not be used up)", n)
		}
		if n := e.CountMail(email, "backup_codes_regenerated"); n != 0 {
			t.Errorf("%d regeneration notices sent", n)
		}
		c2 := e.NewClient()
		webtest.MustRedirect(t, c2.Login(t, email, pw), "/login/code")
		webtest.MustRedirect(t, c2.Submit(t, "/login/code", url.Values{"code": {old[1]}}), "/account")
	})

	t.Run("case=the form asks for the code", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, _ := signedIn(t, e)
		enroll(t, e, c)
		page := c.Get(t, "/account")
		form := page.Body[strings.Index(page.Body, `action="/account/backup-codes"`):]
		form = form[:strings.Index(form, "</form>")]
		if !strings.Contains(form, `name="code"`) || !strings.Contains(form, `autocomplete="one-time-code"`) || !strings.Contains(form, `<label for="codes-code">`) {
			t.Errorf("backup-codes form lacks a labelled code field:\n%s", form)
		}
		if n := strings.Count(page.Body, `autocomplete="one-time-code"`); n != 1 {
			t.Errorf("%d one-time-code fields on the page, want 1", n)
		}
	})

	t.Run("case=wrong codes are rate limited with the other code entries", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, _ := signedIn(t, e)
		secret, _ := enroll(t, e, c)
		// Failures count with those of turning TOTP off: one budget (5 in
		// webtest) for guessing the user's codes on this page.
		webtest.MustStatus(t, c.Submit(t, "/account/totp/disable", url.Values{"code": {"000000"}}), http.StatusBadRequest)
		for range 3 {
			webtest.MustStatus(t, c.Submit(t, "/account/backup-codes", url.Values{"code": {"000000"}}), http.StatusBadRequest)
		}
		r := c.Submit(t, "/account/backup-codes", url.Values{"code": {"000000"}})
		webtest.MustStatus(t, r, http.StatusTooManyRequests)
		if r.Header.Get("Retry-After") == "" || !strings.Contains(r.Body, `id="codes-code-error"`) {
			t.Errorf("lockout without Retry-After or an error on the code field:\n%s", r.Body)
		}
		// Locked out, even the right code waits.
		webtest.MustStatus(t, c.Submit(t, "/account/backup-codes", url.Values{"code": {webtest.Code(t, secret, 30*time.Second)}}), http.StatusTooManyRequests)
	})
}

func TestChangePassword(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	c, u := signedIn(t, e)
	other := e.NewClient()
	webtest.MustRedirect(t, other.Login(t, email, pw), "/account")

	r := c.Submit(t, "/account/password", url.Values{"current_password": {"not it at all"}, "new_password": {"new long passphrase"}})
	webtest.MustStatus(t, r, http.StatusBadRequest)
	if !strings.Contains(r.Body, `aria-describedby="current-password-error"`) {
		t.Error("error not tied to current_password")
	}
	e.Breach("a breached new passphrase")
	r = c.Submit(t, "/account/password", url.Values{"current_password": {pw}, "new_password": {"a breached new passphrase"}})
	webtest.MustStatus(t, r, http.StatusBadRequest)
	if !strings.Contains(r.Body, password.BreachedMessage) {
		t.Error("breached password not refused with its message")
	}
	webtest.MustRedirect(t, c.Submit(t, "/account/password", url.Values{"current_password": {pw}, "new_password": {"new long passphrase"}}), "/account?done=password")
	e.LastMail(t, email, "password_changed")
	webtest.MustStatus(t, c.Get(t, "/account"), http.StatusOK)
	webtest.MustRedirect(t, other.Get(t, "/account"), "/login?return_to=/account")
	if ok, _, _ := e.Hasher.Verify(t.Context(), e.User(t, u.ID).PasswordHash, "new long passphrase"); !ok {
		t.Error("new password not stored")
	}
}

func TestAppsAndSessions(t *testing.T) {
	t.Run("case=a granted app is listed and revocable", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, u := signedIn(t, e)
		e.StartFlow(t, "3p-printer", []string{"openid", "email"}, func(f *flow.Flow) { f.ClientName = "Photo Printer" })
		if err := e.Store.SaveConsent(t.Context(), storage.Consent{UserID: u.ID, ClientID: "3p-printer", Scopes: []string{"openid", "email"}}); err != nil {
			t.Fatal(err)
		}
		page := c.Get(t, "/account")
		if !strings.Contains(page.Body, "Photo Printer") || !strings.Contains(page.Body, "Your email address") {
			t.Fatalf("app not listed:\n%s", page.Body)
		}
		webtest.MustRedirect(t, c.Submit(t, "/account/apps/revoke", url.Values{"client_id": {"3p-printer"}}), "/account?done=app")
		if _, err := e.Store.GetConsent(t.Context(), u.ID, "3p-printer"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("consent after revoke: %v", err)
		}
	})

	t.Run("case=another session can be ended", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, u := signedIn(t, e)
		other := e.NewClient()
		webtest.MustRedirect(t, other.Login(t, email, pw), "/account")
		page := c.Get(t, "/account")
		ids := webtest.Attr(page.Body, "data-session")
		if len(ids) != 2 {
			t.Fatalf("%d sessions listed", len(ids))
		}
		sessions, _ := e.Sessions.List(t.Context(), u.ID)
		var otherID string
		for _, s := range sessions {
			if !strings.Contains(page.Body, `data-session="`+s.ID+`" data-current`) {
				otherID = s.ID
			}
		}
		webtest.MustRedirect(t, c.Submit(t, "/account/sessions/end", url.Values{"session": {otherID}}), "/account?done=session")
		webtest.MustRedirect(t, other.Get(t, "/account"), "/login?return_to=/account")
		webtest.MustStatus(t, c.Get(t, "/account"), http.StatusOK)
	})

	t.Run("case=another user's session cannot be ended", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, _ := signedIn(t, e)
		victim := e.CreateUser(t, "victim@example.com", pw, nil)
		v := e.NewClient()
		webtest.MustRedirect(t, v.Login(t, "victim@example.com", pw), "/account")
		sessions, _ := e.Sessions.List(t.Context(), victim.ID)
		c.Submit(t, "/account/sessions/end", url.Values{"session": {sessions[0].ID}})
		webtest.MustStatus(t, v.Get(t, "/account"), http.StatusOK)
	})

	t.Run("case=sign out ends the session", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, _ := signedIn(t, e)
		webtest.MustRedirect(t, c.Submit(t, "/account/signout", nil), "/login?done=signout")
		webtest.MustRedirect(t, c.Get(t, "/account"), "/login?return_to=/account")
	})

	t.Run("case=a user disabled meanwhile is signed out", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, u := signedIn(t, e)
		e.Store.UpdateUser(t.Context(), u.ID, storage.Effects{}, func(u *storage.User) error { u.Disabled = true; return nil })
		webtest.MustRedirect(t, c.Get(t, "/account"), "/login")
	})
}

func TestAddingTOTPNeedsARecentSignIn(t *testing.T) {
	t.Run("case=an old session is sent to sign in again and back", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{Reauth: time.Nanosecond})
		c, u := signedIn(t, e)
		r := c.Get(t, "/account/totp")
		webtest.MustRedirect(t, r, "/login?reauth=1&return_to=%2Faccount%2Ftotp")
		// The sign-in page asks again although the session is live.
		page := c.Get(t, r.Location)
		webtest.MustStatus(t, page, http.StatusOK)
		if !strings.Contains(page.Body, `name="password"`) {
			t.Fatal("no password field on the re-authentication page")
		}
		back := c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "return_to": {"/account/totp"}})
		webtest.MustRedirect(t, back, "/account/totp")
		if e.User(t, u.ID).TOTPEnabled() {
			t.Fatal("TOTP turned on without its confirming code")
		}
	})
	t.Run("case=a set-up started in one session cannot be confirmed from another", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, u := signedIn(t, e)
		page := c.Get(t, "/account/totp")
		secret := webtest.Attr(page.Body, "data-totp-secret")[0]
		other := e.NewClient()
		webtest.MustRedirect(t, other.Login(t, email, pw), "/account")
		r := other.Submit(t, "/account/totp", url.Values{"pending": webtest.Attr(page.Body, `name="pending" value`), "code": {webtest.Code(t, secret, 0)}})
		webtest.MustStatus(t, r, http.StatusBadRequest)
		if e.User(t, u.ID).TOTPEnabled() {
			t.Fatal("another session confirmed the set-up")
		}
	})
}

func TestSessionsAreNamedByDevice(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	c, _ := signedIn(t, e)
	page := c.Get(t, "/account")
	// The test client is Go's: no browser the page can name, and no zone.
	if !strings.Contains(page.Body, "An unknown browser</strong> (this browser)") || !strings.Contains(page.Body, ">just now</time>") {
		t.Errorf("the session list names no device or time:\n%s", page.Body)
	}
}
