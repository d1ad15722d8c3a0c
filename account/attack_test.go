package account_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web/webtest"
)

// Attack tests: each case names a property an attacker would like to break.

// failureCount sums the failure counts the "account" limiter (webtest's
// limiter of this page) holds in Redis: each is a guess that was checked.
func failureCount(t *testing.T, e *webtest.Env) int {
	t.Helper()
	keys, err := e.Redis.Keys(t.Context(), "latch:ratelimit:account:*:count").Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, k := range keys {
		v, err := e.Redis.Get(t.Context(), k).Int()
		if err != nil {
			t.Fatal(err)
		}
		n += v
	}
	return n
}

// race posts n copies of form (with c's CSRF token) to path at once and
// counts the answers by status. It never calls t.Fatal off the test's
// goroutine.
func race(t *testing.T, e *webtest.Env, c *webtest.Client, path string, form url.Values, n int) map[int]int {
	t.Helper()
	form.Set("csrf_token", c.CSRF(t))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		count = map[int]int{}
		start = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			resp, err := c.HTTP.PostForm(e.URL+path, form)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			mu.Lock()
			count[resp.StatusCode]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return count
}

func TestAttackPassword(t *testing.T) {
	t.Run("case=changing the password needs the right current one", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, u := signedIn(t, e)
		for _, form := range []url.Values{
			{"new_password": {"an attacker's new passphrase"}},
			{"current_password": {""}, "new_password": {"an attacker's new passphrase"}},
			{"current_password": {"not the password"}, "new_password": {"an attacker's new passphrase"}},
			{"current_password": {pw + " "}, "new_password": {"an attacker's new passphrase"}},
		} {
			webtest.MustStatus(t, c.Submit(t, "/account/password", form), http.StatusBadRequest)
		}
		// The current password in the query string is not the form's (and
		// this fifth failure locks the form).
		r := c.Submit(t, "/account/password?current_password="+url.QueryEscape(pw), url.Values{"new_password": {"an attacker's new passphrase"}})
		webtest.MustStatus(t, r, http.StatusTooManyRequests)
		if e.User(t, u.ID).PasswordHash != u.PasswordHash || e.CountMail(email, "password_changed") != 0 {
			t.Fatal("the password changed")
		}
	})

	t.Run("case=parallel wrong current passwords cannot race past the limit", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, u := signedIn(t, e)
		got := race(t, e, c, "/account/password", url.Values{"current_password": {"a wrong guess"}, "new_password": {"an attacker's new passphrase"}}, 30)
		// webtest's account limit is 5.
		if n := failureCount(t, e); n > 5 || got[http.StatusBadRequest]+got[http.StatusTooManyRequests] != 30 {
			t.Fatalf("answers %v: %d guesses were checked, want at most 5", got, n)
		}
		if e.User(t, u.ID).PasswordHash != u.PasswordHash {
			t.Fatal("the password changed")
		}
	})

	t.Run("case=a password change renews this session and ends every other", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, u := signedIn(t, e)
		before := c.Cookie(e.Sessions.CookieName())
		other := e.NewClient()
		webtest.MustRedirect(t, other.Login(t, email, pw), "/account")
		webtest.MustRedirect(t, c.Submit(t, "/account/password", url.Values{"current_password": {pw}, "new_password": {"a new long passphrase"}}), "/account?done=password")
		after := c.Cookie(e.Sessions.CookieName())
		if after == "" || after == before {
			t.Fatal("the session was not renewed")
		}
		stale := e.NewClient()
		base, _ := url.Parse(e.URL)
		stale.HTTP.Jar.SetCookies(base, []*http.Cookie{{Name: e.Sessions.CookieName(), Value: before, Path: "/"}})
		webtest.MustRedirect(t, stale.Get(t, "/account"), "/login?return_to=/account")
		webtest.MustRedirect(t, other.Get(t, "/account"), "/login?return_to=/account")
		if sessions, _ := e.Sessions.List(t.Context(), u.ID); len(sessions) != 1 {
			t.Errorf("%d sessions, want 1", len(sessions))
		}
	})
}

func TestAttackOtherUsers(t *testing.T) {
	t.Run("case=another user's session cannot be ended by its ID", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, _ := signedIn(t, e)
		victim := e.CreateUser(t, "victim@example.com", pw, nil)
		v := e.NewClient()
		webtest.MustRedirect(t, v.Login(t, "victim@example.com", pw), "/account")
		sessions, _ := e.Sessions.List(t.Context(), victim.ID)
		for _, id := range []string{sessions[0].ID, strings.ToUpper(sessions[0].ID), " " + sessions[0].ID, v.Cookie(e.Sessions.CookieName())} {
			webtest.MustRedirect(t, c.Submit(t, "/account/sessions/end", url.Values{"session": {id}}), "/account?done=session")
		}
		webtest.MustStatus(t, v.Get(t, "/account"), http.StatusOK)
		webtest.MustStatus(t, c.Get(t, "/account"), http.StatusOK)
		if events, _ := e.Store.ListAudit(t.Context(), "", 100); len(events) > 0 {
			for _, ev := range events {
				if ev.Kind == "session_ended" {
					t.Errorf("a session_ended event was recorded: %+v", ev)
				}
			}
		}
	})

	t.Run("case=revoking an app removes only this user's grant", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, u := signedIn(t, e)
		victim := e.CreateUser(t, "victim@example.com", pw, nil)
		e.StartFlow(t, "3p-printer", []string{"openid"}, nil)
		for _, id := range []string{u.ID, victim.ID} {
			if err := e.Store.SaveConsent(t.Context(), storage.Consent{UserID: id, ClientID: "3p-printer", Scopes: []string{"openid"}}); err != nil {
				t.Fatal(err)
			}
		}
		webtest.MustRedirect(t, c.Submit(t, "/account/apps/revoke", url.Values{"client_id": {"3p-printer"}, "user_id": {victim.ID}}), "/account?done=app")
		if _, err := e.Store.GetConsent(t.Context(), victim.ID, "3p-printer"); err != nil {
			t.Fatalf("the victim's grant is gone: %v", err)
		}
		if _, err := e.Store.GetConsent(t.Context(), u.ID, "3p-printer"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("the user's own grant stays: %v", err)
		}
	})
}

// sealPending makes the sealed TOTP set-up state the page would, for the
// user and browser session sess, expiring at exp.
func sealPending(t *testing.T, e *webtest.Env, sess *session.Session, secret string, exp time.Time) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"s": secret, "u": "otpauth://totp/latch-test:x?secret=" + secret + "&issuer=latch-test", "e": exp})
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(e.Box.Seal(b, []byte("latch totp-enroll v2\x00"+sess.UserID+"\x00"+sess.ID)))
}

func TestAttackTOTP(t *testing.T) {
	t.Run("case=an expired, tampered or foreign set-up is refused", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, u := signedIn(t, e)
		page := c.Get(t, "/account/totp")
		secret := webtest.Attr(page.Body, "data-totp-secret")[0]
		pending := webtest.Attr(page.Body, `name="pending" value`)[0]
		mallory := e.CreateUser(t, "mallory@example.com", pw, nil)
		raw, _ := base64.RawURLEncoding.DecodeString(pending)
		raw[len(raw)-1] ^= 1
		sess := e.Session(t, c)
		other := *sess
		other.ID = "another-session"
		foreign := other
		foreign.UserID = mallory.ID
		for name, p := range map[string]string{
			"expired":                    sealPending(t, e, sess, secret, time.Now().Add(-time.Second)),
			"tampered":                   base64.RawURLEncoding.EncodeToString(raw),
			"sealed for another user":    sealPending(t, e, &foreign, secret, time.Now().Add(time.Minute)),
			"sealed for another session": sealPending(t, e, &other, secret, time.Now().Add(time.Minute)),
			"empty":                      "",
			"truncated":                  pending[:len(pending)/2],
		} {
			if r := c.Submit(t, "/account/totp", url.Values{"pending": {p}, "code": {webtest.Code(t, secret, 0)}}); r.Status != http.StatusBadRequest {
				t.Errorf("%s: status %d, want 400", name, r.Status)
			}
		}
		if e.User(t, u.ID).TOTPEnabled() {
			t.Fatal("TOTP was turned on")
		}
		// The hand-made state has the page's format: unexpired, it works.
		webtest.MustStatus(t, c.Submit(t, "/account/totp", url.Values{"pending": {sealPending(t, e, sess, secret, time.Now().Add(time.Minute))}, "code": {webtest.Code(t, secret, 0)}}), http.StatusOK)
	})

	t.Run("case=the set-up's confirming code cannot be replayed to turn TOTP off", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, u := signedIn(t, e)
		page := c.Get(t, "/account/totp")
		secret := webtest.Attr(page.Body, "data-totp-secret")[0]
		code := webtest.Code(t, secret, 0)
		webtest.MustStatus(t, c.Submit(t, "/account/totp", url.Values{"pending": webtest.Attr(page.Body, `name="pending" value`), "code": {code}}), http.StatusOK)
		webtest.MustStatus(t, c.Submit(t, "/account/totp/disable", url.Values{"code": {code}}), http.StatusBadRequest)
		if !e.User(t, u.ID).TOTPEnabled() {
			t.Fatal("a replayed code turned TOTP off")
		}
	})

	t.Run("case=backup codes are shown once and never by a GET", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, _ := signedIn(t, e)
		_, codes := enroll(t, e, c)
		for _, path := range []string{"/account", "/account/totp", "/account/backup-codes"} {
			r := c.Get(t, path)
			if len(webtest.Attr(r.Body, "data-backup-code")) != 0 {
				t.Errorf("GET %s shows backup codes", path)
			}
			for _, code := range codes {
				if strings.Contains(r.Body, code) {
					t.Errorf("GET %s shows a backup code", path)
				}
			}
		}
		if c.Get(t, "/account/backup-codes").Status != http.StatusMethodNotAllowed {
			t.Error("GET /account/backup-codes is not refused")
		}
	})

	t.Run("case=parallel wrong codes cannot race past the limit", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, u := signedIn(t, e)
		enroll(t, e, c)
		got := race(t, e, c, "/account/totp/disable", url.Values{"code": {"000000"}}, 30)
		if n := failureCount(t, e); n > 5 || got[http.StatusBadRequest]+got[http.StatusTooManyRequests] != 30 {
			t.Fatalf("answers %v: %d codes were checked, want at most 5", got, n)
		}
		if !e.User(t, u.ID).TOTPEnabled() {
			t.Fatal("TOTP was turned off")
		}
	})
}

func TestAttackDisabledUser(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	c, u := signedIn(t, e)
	secret, _ := enroll(t, e, c)
	if _, err := e.Store.UpdateUser(t.Context(), u.ID, storage.Effects{}, func(u *storage.User) error {
		u.Disabled = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Run("case=a disabled user's session can change nothing", func(t *testing.T) {
		for path, form := range map[string]url.Values{
			"/account/password":     {"current_password": {pw}, "new_password": {"a new long passphrase"}},
			"/account/totp/disable": {"code": {webtest.Code(t, secret, 30*time.Second)}},
			"/account/backup-codes": {"code": {webtest.Code(t, secret, 30*time.Second)}},
			"/account/apps/revoke":  {"client_id": {"x"}},
			"/account/sessions/end": {"session": {"x"}},
		} {
			if r := c.Submit(t, path, form); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/login") {
				t.Errorf("%s: %d %q, want a redirect to sign in", path, r.Status, r.Location)
			}
		}
		got := e.User(t, u.ID)
		if got.PasswordHash != u.PasswordHash || !got.TOTPEnabled() {
			t.Fatal("a disabled user changed the account")
		}
		if n := e.CountMail(email, "backup_codes_regenerated") + e.CountMail(email, "password_changed") + e.CountMail(email, "totp_disabled"); n != 0 {
			t.Fatalf("%d notices sent", n)
		}
	})
}

func TestAttackOutput(t *testing.T) {
	const evil = `<script>alert(1)</script>"'><img src=x onerror=alert(1)>`
	t.Run("case=display name, app name, scopes and user agent are escaped", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, func(u *storage.User) { u.Name = evil })
		e.StartFlow(t, "3p-"+strconv.Itoa(1), []string{"openid", evil}, func(f *flow.Flow) { f.ClientName = evil })
		if err := e.Store.SaveConsent(t.Context(), storage.Consent{UserID: u.ID, ClientID: "3p-1", Scopes: []string{"openid", evil}}); err != nil {
			t.Fatal(err)
		}
		other := e.NewClient()
		other.HTTP.Transport = uaTransport{evil}
		webtest.MustRedirect(t, other.Login(t, email, pw), "/account")
		c := e.NewClient()
		webtest.MustRedirect(t, c.Login(t, email, pw), "/account")
		page := c.Get(t, "/account")
		webtest.MustStatus(t, page, http.StatusOK)
		if strings.Contains(page.Body, "<script>") || strings.Contains(page.Body, "<img") || strings.Contains(page.Body, `"'>`) {
			t.Fatalf("unescaped value on the account page:\n%s", page.Body)
		}
		if strings.Count(page.Body, "&lt;script&gt;") < 3 {
			t.Errorf("the values are not all shown, escaped:\n%s", page.Body)
		}
	})

	t.Run("case=done shows only fixed notices", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, _ := signedIn(t, e)
		if r := c.Get(t, "/account?done="+url.QueryEscape(evil)); strings.Contains(r.Body, "alert(1)") {
			t.Fatal("done is shown as given")
		}
	})
}

// uaTransport sends a chosen User-Agent.
type uaTransport struct{ ua string }

func (t uaTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", t.ua)
	return http.DefaultTransport.RoundTrip(r)
}
