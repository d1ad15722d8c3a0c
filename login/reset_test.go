package login_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web/webtest"
)

const newPW = "the owner's new passphrase"

// resetWithTOTP makes a user whose TOTP was turned on age ago, resets the
// password through the pages and returns the answer to the reset form.
func resetWithTOTP(t *testing.T, e *webtest.Env, age time.Duration) (storage.User, *webtest.Client, *webtest.Response) {
	t.Helper()
	u := e.CreateUser(t, email, pw, nil)
	e.EnableTOTP(t, u.ID)
	_, err := e.Store.UpdateUser(t.Context(), u.ID, storage.Effects{}, func(u *storage.User) error {
		u.TOTPEnabledAt = time.Now().Add(-age)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	c := e.NewClient()
	token := resetToken(t, e, c, email)
	return u, c, c.Submit(t, "/reset", url.Values{"token": {token}, "new_password": {newPW}})
}

func TestResetOffersToRemoveARecentSecondFactor(t *testing.T) {
	t.Run("case=a factor added days ago can be removed with the reset", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u, c, page := resetWithTOTP(t, e, 2*24*time.Hour)
		webtest.MustStatus(t, page, http.StatusOK)
		recovery := webtest.Attr(page.Body, `name="recovery" value`)
		if len(recovery) != 1 || !strings.Contains(page.Body, "Two-step sign-in with an authenticator app, turned on") {
			t.Fatalf("no offer to remove the factor:\n%s", page.Body)
		}
		webtest.MustRedirect(t, c.Submit(t, "/reset/factors", url.Values{"recovery": recovery}), "/login?done=reset_factor")
		if e.User(t, u.ID).TOTPEnabled() {
			t.Fatal("TOTP is still on")
		}
		webtest.MustRedirect(t, e.NewClient().Login(t, email, newPW), "/account")
		a, err := e.Store.ListAudit(t.Context(), u.ID, 50)
		if err != nil {
			t.Fatal(err)
		}
		if !hasAudit(a, "totp_disabled", "via", "password_reset") {
			t.Errorf("no totp_disabled audit event via password_reset: %+v", a)
		}
	})
	t.Run("case=a factor older than the window stays and is not offered", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u, _, page := resetWithTOTP(t, e, 30*24*time.Hour)
		webtest.MustRedirect(t, page, "/login?done=reset")
		if !e.User(t, u.ID).TOTPEnabled() {
			t.Fatal("a reset removed a long-standing factor")
		}
	})
}

func TestAttackResetFactorRemoval(t *testing.T) {
	t.Run("case=a tampered or foreign offer removes nothing", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u, c, page := resetWithTOTP(t, e, time.Hour)
		recovery := webtest.Attr(page.Body, `name="recovery" value`)[0]
		for name, bad := range map[string]string{"empty": "", "truncated": recovery[:len(recovery)/2], "garbage": "AAAA" + recovery[4:]} {
			if r := c.Submit(t, "/reset/factors", url.Values{"recovery": {bad}}); r.Status != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400", name, r.Status)
			}
		}
		if !e.User(t, u.ID).TOTPEnabled() {
			t.Fatal("a bad offer removed the factor")
		}
	})
	t.Run("case=an offer does not reach a factor set up after it", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u, c, page := resetWithTOTP(t, e, time.Hour)
		recovery := webtest.Attr(page.Body, `name="recovery" value`)
		if _, err := e.Store.SetTOTP(t.Context(), u.ID, nil, nil, storage.Effects{}); err != nil {
			t.Fatal(err)
		}
		e.EnableTOTP(t, u.ID)
		webtest.MustRedirect(t, c.Submit(t, "/reset/factors", url.Values{"recovery": recovery}), "/login?done=reset")
		if !e.User(t, u.ID).TOTPEnabled() {
			t.Fatal("an old offer removed a factor set up after it")
		}
	})
}

func hasAudit(events []storage.AuditEvent, kind, key, value string) bool {
	for _, ev := range events {
		if ev.Kind == kind && ev.Detail[key] == value {
			return true
		}
	}
	return false
}
