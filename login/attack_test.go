package login_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/login"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web/webtest"
)

// Attack tests: each case names a property an attacker would like to break.

// cookieNames lists the names of the cookies a response sets, sorted.
func cookieNames(r *webtest.Response) []string {
	var names []string
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names
}

// sameAnswer fails t unless a and b (answers about emails ea and eb) have
// the same status, Location, cookie names, Retry-After and body once each
// email is replaced.
func sameAnswer(t *testing.T, a, b *webtest.Response, ea, eb string) {
	t.Helper()
	if a.Status != b.Status || a.Location != b.Location {
		t.Errorf("status/location differ: %d %q vs %d %q", a.Status, a.Location, b.Status, b.Location)
	}
	if ca, cb := cookieNames(a), cookieNames(b); !slices.Equal(ca, cb) {
		t.Errorf("cookies set differ: %v vs %v", ca, cb)
	}
	if a.Header.Get("Retry-After") != "" != (b.Header.Get("Retry-After") != "") {
		t.Errorf("Retry-After differs: %q vs %q", a.Header.Get("Retry-After"), b.Header.Get("Retry-After"))
	}
	if x, y := masked(a.Body, ea), masked(b.Body, eb); x != y {
		t.Errorf("bodies differ:\n%s\n----\n%s", x, y)
	}
}

// rawPost posts form to path with c's cookies, safe to call from several
// goroutines (it never calls t.Fatal), and returns the status.
func rawPost(e *webtest.Env, c *webtest.Client, path string, form url.Values) (int, error) {
	resp, err := c.HTTP.PostForm(e.URL+path, form)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// race posts n copies of form to path at once and counts the answers by
// status.
func race(t *testing.T, e *webtest.Env, c *webtest.Client, path string, form url.Values, n int) map[int]int {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		count = map[int]int{}
		start = make(chan struct{})
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			status, err := rawPost(e, c, path, form)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			count[status]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return count
}

// failures counts the user's login_failed audit events: each is a guess
// that was checked.
func failures(t *testing.T, e *webtest.Env, userID string) int {
	t.Helper()
	events, err := e.Store.ListAudit(t.Context(), userID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range events {
		if ev.Kind == "login_failed" {
			n++
		}
	}
	return n
}

func TestAttackEnumeration(t *testing.T) {
	const ghost = "ghost@example.com"

	t.Run("case=login answers a wrong password, an unknown email and a disabled account alike", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		e.CreateUser(t, "off@example.com", pw, func(u *storage.User) { u.Disabled = true })
		c := e.NewClient()
		c.CSRF(t)
		wrong := c.Login(t, email, "not the password at all")
		unknown := c.Login(t, ghost, "not the password at all")
		disabled := c.Login(t, "off@example.com", pw)
		webtest.MustStatus(t, wrong, http.StatusUnauthorized)
		sameAnswer(t, wrong, unknown, email, ghost)
		sameAnswer(t, wrong, disabled, email, "off@example.com")
		if c.Cookie("latch_login") != "" || c.Cookie(e.Sessions.CookieName()) != "" {
			t.Error("a failed sign-in left a pending sign-in or a session")
		}
	})

	t.Run("case=the lockout of a known account looks like that of an unknown one", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		c.CSRF(t)
		var known, unknown *webtest.Response
		for range 6 {
			known = c.Login(t, email, "wrong password number")
			unknown = c.Login(t, ghost, "wrong password number")
		}
		webtest.MustStatus(t, known, http.StatusTooManyRequests)
		sameAnswer(t, known, unknown, email, ghost)
	})

	t.Run("case=forgot answers alike, mails only a known enabled account, and sets nothing", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		e.CreateUser(t, "off@example.com", pw, func(u *storage.User) { u.Disabled = true })
		c := e.NewClient()
		c.CSRF(t)
		known := c.Submit(t, "/forgot", url.Values{"email": {"  ADA@Example.com "}})
		unknown := c.Submit(t, "/forgot", url.Values{"email": {ghost}})
		disabled := c.Submit(t, "/forgot", url.Values{"email": {"off@example.com"}})
		webtest.MustStatus(t, known, http.StatusOK)
		sameAnswer(t, known, unknown, email, ghost)
		sameAnswer(t, known, disabled, email, "off@example.com")
		if e.CountMail(email, "password_reset") != 1 || e.CountMail("off@example.com", "password_reset") != 0 || e.CountMail(ghost, "password_reset") != 0 {
			t.Errorf("reset mail: %v", e.Mails())
		}
	})

	t.Run("case=register answers a taken address alike, in any case or spacing", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{Registration: true})
		u := e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		c.CSRF(t)
		fresh := c.Submit(t, "/register", url.Values{"email": {"zed@example.com"}, "password": {pw}})
		for _, variant := range []string{email, "ADA@EXAMPLE.COM", " Ada@Example.com\t", "ada@example.com\x00"} {
			taken := c.Submit(t, "/register", url.Values{"email": {variant}, "password": {pw}})
			sameAnswer(t, taken, fresh, email, "zed@example.com")
		}
		if got, err := e.Store.GetUserByEmail(t.Context(), email); err != nil || got.ID != u.ID || got.PasswordHash != u.PasswordHash {
			t.Errorf("the taken account changed: %+v %v", got, err)
		}
		if n := e.CountMail(email, "verify_email"); n != 0 {
			t.Errorf("%d verification mails to the existing account", n)
		}
	})

	t.Run("case=a reset link for an unknown user is the same bad link", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c := e.NewClient()
		bad := c.Get(t, "/reset?token=x")
		unknown := c.Get(t, "/reset?token="+base64.RawURLEncoding.EncodeToString([]byte("no-such-user"))+".99999999999.AAAA")
		webtest.MustStatus(t, unknown, http.StatusBadRequest)
		sameAnswer(t, bad, unknown, "", "")
	})
}

func TestAttackEmailVariants(t *testing.T) {
	t.Run("case=case, spacing and NUL variants reach one account and share one lockout", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		c.CSRF(t)
		webtest.MustRedirect(t, c.Login(t, "\tADA@example.COM  ", pw), "/account")
		c = e.NewClient()
		c.CSRF(t)
		for _, variant := range []string{"Ada@example.com", " ada@example.com", "ADA@EXAMPLE.COM", "ada@example.com\x00"} {
			webtest.MustStatus(t, c.Login(t, variant, "wrong password number"), http.StatusUnauthorized)
		}
		webtest.MustStatus(t, c.Login(t, "aDa@example.com\n", "wrong password number"), http.StatusTooManyRequests)
		webtest.MustStatus(t, c.Login(t, email, pw), http.StatusTooManyRequests)
	})

	t.Run("case=registration refuses look-alike and invisible characters", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{Registration: true})
		e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		c.CSRF(t)
		for _, variant := range []string{
			"ａｄａ@example.com",        // fullwidth local part
			"ada@ｅｘａｍｐｌｅ.com",        // fullwidth domain: IDNA maps it to example.com
			"ada@exam\u200bple.com",  // zero-width space
			"\u0430da@example.com",   // Cyrillic a
			"ada\u00a0x@example.com", // no-break space inside
			"ada@example.com\u200b",  // invisible trailing character
			"ada\u0301@example.com",  // combining accent
			"ada@example.com\x7f",    // control character
			"\"ada\"@example.com",    // quoted form of a taken address
			"ada@example.com.",       // trailing dot
			"ada@example.com>",       // angle bracket
			"ADA@[192.0.2.1]x",       // garbage domain literal
			strings.Repeat("a", 250) + "@example.com",
		} {
			r := c.Submit(t, "/register", url.Values{"email": {variant}, "password": {pw}})
			if r.Status != http.StatusBadRequest {
				t.Errorf("%q: status %d, want 400", variant, r.Status)
			}
		}
		if n := len(e.Mails()); n != 0 {
			t.Errorf("%d mails sent: %v", n, e.Mails())
		}
	})

	t.Run("case=registering a variant of a taken address creates no second account", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{Registration: true})
		c := e.NewClient()
		c.CSRF(t)
		webtest.MustStatus(t, c.Submit(t, "/register", url.Values{"email": {"Ada@Example.com"}, "password": {pw}}), http.StatusOK)
		webtest.MustStatus(t, c.Submit(t, "/register", url.Values{"email": {" ada@EXAMPLE.com "}, "password": {"a different long passphrase"}}), http.StatusOK)
		u, err := e.Store.GetUserByEmail(t.Context(), email)
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != email {
			t.Errorf("stored email %q, want the normalized %q", u.Email, email)
		}
		if ok, _, _ := e.Hasher.Verify(t.Context(), u.PasswordHash, pw); !ok {
			t.Error("the second registration replaced the password")
		}
		if n := e.CountMail(email, "verify_email"); n != 1 {
			t.Errorf("%d verification mails, want 1", n)
		}
	})
}

func TestAttackRateLimits(t *testing.T) {
	t.Run("case=parallel wrong passwords cannot race past the account limit", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		tok := c.CSRF(t)
		got := race(t, e, c, "/login", url.Values{"email": {email}, "password": {"wrong password number"}, "csrf_token": {tok}}, 30)
		// webtest's account limit is 5: no more than 5 guesses may be
		// checked before the lock, however they are timed.
		if n := failures(t, e, u.ID); n > 5 || got[http.StatusUnauthorized]+got[http.StatusTooManyRequests] != 30 {
			t.Fatalf("answers %v: %d guesses were checked, want at most 5", got, n)
		}
	})

	t.Run("case=parallel wrong codes cannot race past the account limit", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		e.EnableTOTP(t, u.ID)
		c := e.NewClient()
		webtest.MustRedirect(t, c.Login(t, email, pw), "/login/code")
		got := race(t, e, c, "/login/code", url.Values{"code": {"000000"}, "csrf_token": {c.CSRF(t)}}, 30)
		if n := failures(t, e, u.ID); n > 5 || got[http.StatusUnauthorized]+got[http.StatusTooManyRequests] != 30 {
			t.Fatalf("answers %v: %d codes were checked, want at most 5", got, n)
		}
	})

	t.Run("case=the code limit is per account, not per browser or per password step", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		secret := e.EnableTOTP(t, u.ID)
		a := e.NewClient()
		webtest.MustRedirect(t, a.Login(t, email, pw), "/login/code")
		for range 4 {
			webtest.MustStatus(t, a.Submit(t, "/login/code", url.Values{"code": {"000000"}}), http.StatusUnauthorized)
		}
		// A fresh password step in another browser (which resets the
		// password count) does not reset the code count.
		b := e.NewClient()
		webtest.MustRedirect(t, b.Login(t, email, pw), "/login/code")
		webtest.MustStatus(t, b.Submit(t, "/login/code", url.Values{"code": {"000000"}}), http.StatusTooManyRequests)
		webtest.MustStatus(t, b.Submit(t, "/login/code", url.Values{"code": {webtest.Code(t, secret, 0)}}), http.StatusTooManyRequests)
		webtest.MustStatus(t, a.Submit(t, "/login/code", url.Values{"code": {webtest.Code(t, secret, 0)}}), http.StatusTooManyRequests)
	})

	t.Run("case=forwarding headers do not change the address that is limited", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c := e.NewClient()
		tok := c.CSRF(t)
		last := 0
		for i := range 20 {
			req, _ := http.NewRequest(http.MethodPost, e.URL+"/login", strings.NewReader(url.Values{
				"email": {"u" + strconv.Itoa(i) + "@example.com"}, "password": {"wrong password number"}, "csrf_token": {tok},
			}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", "198.51.100."+strconv.Itoa(i))
			req.Header.Set("X-Real-IP", "198.51.100."+strconv.Itoa(i))
			req.Header.Set("Forwarded", "for=198.51.100."+strconv.Itoa(i))
			resp, err := c.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			last = resp.StatusCode
		}
		if last != http.StatusTooManyRequests {
			t.Fatalf("the 20th failure from one address with forged forwarding headers got %d, want 429", last)
		}
	})

	t.Run("case=password and code failures count against one address limit", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		e.EnableTOTP(t, u.ID)
		c := e.NewClient()
		// 19 failed passwords on 19 accounts, then one wrong code: the
		// address is locked, whichever step failed.
		for i := range 15 {
			webtest.MustStatus(t, c.Login(t, "u"+strconv.Itoa(i)+"@example.com", "wrong password number"), http.StatusUnauthorized)
		}
		webtest.MustRedirect(t, c.Login(t, email, pw), "/login/code")
		for range 4 {
			webtest.MustStatus(t, c.Submit(t, "/login/code", url.Values{"code": {"000000"}}), http.StatusUnauthorized)
		}
		webtest.MustStatus(t, c.Login(t, "another@example.com", "wrong password number"), http.StatusTooManyRequests)
	})
}

func TestAttackSessionsAndFlows(t *testing.T) {
	t.Run("case=a session cookie planted before sign-in does not survive it", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		attacker := e.NewClient()
		webtest.MustRedirect(t, attacker.Login(t, email, pw), "/account")
		planted := attacker.Cookie(e.Sessions.CookieName())

		victim := e.NewClient()
		base, _ := url.Parse(e.URL)
		victim.HTTP.Jar.SetCookies(base, []*http.Cookie{{Name: e.Sessions.CookieName(), Value: planted, Path: "/"}})
		webtest.MustRedirect(t, victim.Login(t, email, pw), "/account")
		if got := victim.Cookie(e.Sessions.CookieName()); got == "" || got == planted {
			t.Fatalf("the session cookie was not renewed at sign-in")
		}
		// The planted session was ended, not shared.
		webtest.MustRedirect(t, attacker.Get(t, "/account"), "/login?return_to=/account")
		if sessions, _ := e.Sessions.List(t.Context(), u.ID); len(sessions) != 1 {
			t.Errorf("%d sessions, want 1", len(sessions))
		}

		// A made-up cookie value is no session either, and is replaced too.
		fixed := e.NewClient()
		fixed.HTTP.Jar.SetCookies(base, []*http.Cookie{{Name: e.Sessions.CookieName(), Value: "attacker-chosen-value-0123456789abcdef", Path: "/"}})
		webtest.MustRedirect(t, fixed.Get(t, "/account"), "/login?return_to=/account")
		webtest.MustRedirect(t, fixed.Login(t, email, pw), "/account")
		if fixed.Cookie(e.Sessions.CookieName()) == "attacker-chosen-value-0123456789abcdef" {
			t.Error("a chosen session cookie survived sign-in")
		}
	})

	t.Run("case=the second step needs the password step of this browser", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		secret := e.EnableTOTP(t, u.ID)
		stranger := e.NewClient()
		webtest.MustStatus(t, stranger.Submit(t, "/login/code", url.Values{"code": {webtest.Code(t, secret, 0)}}), http.StatusBadRequest)
		webtest.MustStatus(t, stranger.Submit(t, "/login/new-password", url.Values{"new_password": {"an attacker's new passphrase"}}), http.StatusBadRequest)
		if stranger.Cookie(e.Sessions.CookieName()) != "" {
			t.Fatal("a code without a password step got a session")
		}
		// A made-up pending cookie is no pending sign-in.
		base, _ := url.Parse(e.URL)
		stranger.HTTP.Jar.SetCookies(base, []*http.Cookie{{Name: "latch_login", Value: "made-up", Path: "/"}})
		webtest.MustStatus(t, stranger.Submit(t, "/login/code", url.Values{"code": {webtest.Code(t, secret, 0)}}), http.StatusBadRequest)
	})

	t.Run("case=a completed second step cannot be replayed", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		secret := e.EnableTOTP(t, u.ID)
		c := e.NewClient()
		webtest.MustRedirect(t, c.Login(t, email, pw), "/login/code")
		pending := c.Cookie("latch_login")
		webtest.MustRedirect(t, c.Submit(t, "/login/code", url.Values{"code": {webtest.Code(t, secret, 0)}}), "/account")
		if c.Cookie("latch_login") != "" {
			t.Error("the pending cookie outlived the sign-in")
		}
		replay := e.NewClient()
		base, _ := url.Parse(e.URL)
		replay.HTTP.Jar.SetCookies(base, []*http.Cookie{{Name: "latch_login", Value: pending, Path: "/"}})
		webtest.MustStatus(t, replay.Submit(t, "/login/code", url.Values{"code": {webtest.Code(t, secret, 30*time.Second)}}), http.StatusBadRequest)
		webtest.MustRedirect(t, replay.Get(t, "/login/code"), "/login")
		if replay.Cookie(e.Sessions.CookieName()) != "" {
			t.Error("a replayed pending sign-in got a session")
		}
	})

	t.Run("case=a flow is used once and only in its stage", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		consentFlow := e.StartFlow(t, webtest.ThirdParty+"app", []string{"openid"}, nil)
		webtest.MustRedirect(t, c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "flow": {consentFlow.ID}}), e.Flows.URL(flow.StageResume, consentFlow.ID))
		webtest.MustRedirect(t, c.Get(t, e.Flows.URL(flow.StageResume, consentFlow.ID)), e.Flows.URL(flow.StageConsent, consentFlow.ID))
		// A flow waiting for consent is no login state.
		webtest.MustStatus(t, c.Get(t, "/login?flow="+consentFlow.ID), http.StatusBadRequest)
		webtest.MustStatus(t, c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "flow": {consentFlow.ID}}), http.StatusBadRequest)
		// A flow waiting for login is no consent state.
		loginFlow := e.StartFlow(t, webtest.ThirdParty+"app", []string{"openid"}, nil)
		webtest.MustStatus(t, c.Get(t, e.Flows.URL(flow.StageConsent, loginFlow.ID)), http.StatusBadRequest)
		webtest.MustStatus(t, c.Submit(t, "/consent", url.Values{"flow": {loginFlow.ID}, "decision": {"allow"}}), http.StatusBadRequest)
		// The consent answer is taken once.
		webtest.MustRedirect(t, c.Submit(t, "/consent", url.Values{"flow": {consentFlow.ID}, "decision": {"allow"}}), e.Flows.URL(flow.StageResume, consentFlow.ID))
		webtest.MustStatus(t, c.Submit(t, "/consent", url.Values{"flow": {consentFlow.ID}, "decision": {"deny"}}), http.StatusBadRequest)
		webtest.DecodeResult(t, c.Get(t, e.Flows.URL(flow.StageResume, consentFlow.ID)))
		webtest.MustStatus(t, c.Get(t, e.Flows.URL(flow.StageResume, consentFlow.ID)), http.StatusBadRequest)
	})
}

// TestAttackPendingSignIn pins that the steps after the password go on
// only for the account as it was: a new password, a disabled account or a
// forced change stops or binds them.
func TestAttackPendingSignIn(t *testing.T) {
	t.Run("case=a pending sign-in dies when the password changes", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		secret := e.EnableTOTP(t, u.ID)
		attacker := e.NewClient()
		webtest.MustRedirect(t, attacker.Login(t, email, pw), "/login/code")
		// The owner resets the password meanwhile.
		owner := e.NewClient()
		webtest.MustStatus(t, owner.Submit(t, "/forgot", url.Values{"email": {email}}), http.StatusOK)
		token := webtest.Attr(owner.Get(t, e.LastMail(t, email, "password_reset").Data["link"]).Body, `name="token" value`)
		// The TOTP is a day old: the reset offers to remove it.
		webtest.MustStatus(t, owner.Submit(t, "/reset", url.Values{"token": token, "new_password": {"the owner's new passphrase"}}), http.StatusOK)

		r := attacker.Submit(t, "/login/code", url.Values{"code": {webtest.Code(t, secret, 0)}})
		if r.Status == http.StatusSeeOther || attacker.Cookie(e.Sessions.CookieName()) != "" {
			t.Fatalf("a sign-in begun with the old password completed after the reset: %d %q", r.Status, r.Location)
		}
	})

	t.Run("case=a forced new password begun before a reset cannot override it", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, func(u *storage.User) { u.PasswordMustChange = true })
		attacker := e.NewClient()
		webtest.MustRedirect(t, attacker.Login(t, email, pw), "/login/new-password")
		owner := e.NewClient()
		webtest.MustStatus(t, owner.Submit(t, "/forgot", url.Values{"email": {email}}), http.StatusOK)
		token := webtest.Attr(owner.Get(t, e.LastMail(t, email, "password_reset").Data["link"]).Body, `name="token" value`)
		webtest.MustRedirect(t, owner.Submit(t, "/reset", url.Values{"token": token, "new_password": {"the owner's new passphrase"}}), "/login?done=reset")

		attacker.Submit(t, "/login/new-password", url.Values{"new_password": {"the attacker's own passphrase"}})
		if ok, _, _ := e.Hasher.Verify(t.Context(), e.User(t, u.ID).PasswordHash, "the owner's new passphrase"); !ok {
			t.Fatal("a pending sign-in from before the reset replaced the owner's new password")
		}
		if attacker.Cookie(e.Sessions.CookieName()) != "" {
			t.Fatal("the attacker got a session")
		}
	})

	t.Run("case=a user disabled between the steps can neither finish nor change the password", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		secret := e.EnableTOTP(t, u.ID)
		c := e.NewClient()
		webtest.MustRedirect(t, c.Login(t, email, pw), "/login/code")
		disable(t, e, u.ID)
		r := c.Submit(t, "/login/code", url.Values{"code": {webtest.Code(t, secret, 0)}})
		if r.Status == http.StatusSeeOther || c.Cookie(e.Sessions.CookieName()) != "" {
			t.Fatalf("a disabled user finished the second step: %d %q", r.Status, r.Location)
		}

		u2 := e.CreateUser(t, "grace@example.com", pw, func(u *storage.User) { u.PasswordMustChange = true })
		c2 := e.NewClient()
		webtest.MustRedirect(t, c2.Login(t, "grace@example.com", pw), "/login/new-password")
		disable(t, e, u2.ID)
		r = c2.Submit(t, "/login/new-password", url.Values{"new_password": {"a fresh and unbreached passphrase"}})
		if r.Status == http.StatusSeeOther || c2.Cookie(e.Sessions.CookieName()) != "" {
			t.Fatalf("a disabled user finished the sign-in: %d %q", r.Status, r.Location)
		}
		if got := e.User(t, u2.ID); got.PasswordHash != u2.PasswordHash || !got.PasswordMustChange {
			t.Error("a disabled user changed the password")
		}
		if e.CountMail("grace@example.com", "password_changed") != 0 {
			t.Error("a disabled user's password change was mailed")
		}
	})

	t.Run("case=password_must_change cannot be skipped", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, func(u *storage.User) { u.PasswordMustChange = true })
		f := e.StartFlow(t, "first", []string{"openid"}, nil)
		c := e.NewClient()
		webtest.MustRedirect(t, c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "flow": {f.ID}}), "/login/new-password")
		webtest.MustRedirect(t, c.Get(t, "/account"), "/login?return_to=/account")
		webtest.MustStatus(t, c.Get(t, e.Flows.URL(flow.StageResume, f.ID)), http.StatusBadRequest)
		webtest.MustRedirect(t, c.Get(t, "/login/code"), "/login/new-password")
		page := c.Get(t, "/login?flow="+f.ID)
		webtest.MustStatus(t, page, http.StatusOK)
		if !strings.Contains(page.Body, `name="password"`) {
			t.Error("the flow resumed without the new password")
		}
		if c.Cookie(e.Sessions.CookieName()) != "" {
			t.Error("a session exists before the new password")
		}
		if _, err := e.Flows.Get(t.Context(), f.ID, flow.StageLogin); err != nil {
			t.Errorf("the flow moved on: %v", err)
		}
	})
}

func disable(t *testing.T, e *webtest.Env, id string) {
	t.Helper()
	if _, err := e.Store.UpdateUser(t.Context(), id, storage.Effects{}, func(u *storage.User) error {
		u.Disabled = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// resetLink requests a reset link for addr and returns its token.
func resetToken(t *testing.T, e *webtest.Env, c *webtest.Client, addr string) string {
	t.Helper()
	webtest.MustStatus(t, c.Submit(t, "/forgot", url.Values{"email": {addr}}), http.StatusOK)
	link, err := url.Parse(e.LastMail(t, addr, "password_reset").Data["link"])
	if err != nil {
		t.Fatal(err)
	}
	return link.Query().Get("token")
}

func TestAttackLinks(t *testing.T) {
	t.Run("case=a reset link cannot be turned to another user", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		victim := e.CreateUser(t, "victim@example.com", pw, nil)
		c := e.NewClient()
		tok := resetToken(t, e, c, email)
		parts := strings.Split(tok, ".")
		swapped := base64.RawURLEncoding.EncodeToString([]byte(victim.ID)) + "." + parts[1] + "." + parts[2]
		webtest.MustStatus(t, c.Get(t, "/reset?token="+url.QueryEscape(swapped)), http.StatusBadRequest)
		webtest.MustStatus(t, c.Submit(t, "/reset", url.Values{"token": {swapped}, "new_password": {"an attacker's new passphrase"}}), http.StatusBadRequest)
		if got := e.User(t, victim.ID); got.PasswordHash != victim.PasswordHash {
			t.Fatal("the victim's password changed")
		}
	})

	t.Run("case=a tampered, truncated or extended reset link is refused", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		tok := resetToken(t, e, c, email)
		parts := strings.Split(tok, ".")
		exp, _ := strconv.ParseInt(parts[1], 10, 64)
		for name, bad := range map[string]string{
			"later expiry":     parts[0] + "." + strconv.FormatInt(exp+86400, 10) + "." + parts[2],
			"truncated mac":    parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])/2],
			"empty mac":        parts[0] + "." + parts[1] + ".",
			"no mac":           parts[0] + "." + parts[1],
			"extra part":       tok + ".AAAA",
			"padded mac":       tok + "=",
			"email as subject": strings.Replace(tok, parts[0], base64.RawURLEncoding.EncodeToString([]byte(email)), 1),
			"truncated token":  tok[:len(tok)-1],
			"leading space":    " " + tok,
			"upper-cased user": base64.RawURLEncoding.EncodeToString([]byte(strings.ToUpper(u.ID))) + "." + parts[1] + "." + parts[2],
		} {
			if r := c.Get(t, "/reset?token="+url.QueryEscape(bad)); r.Status != http.StatusBadRequest {
				t.Errorf("%s: GET got %d", name, r.Status)
			}
			if r := c.Submit(t, "/reset", url.Values{"token": {bad}, "new_password": {"an attacker's new passphrase"}}); r.Status != http.StatusBadRequest {
				t.Errorf("%s: POST got %d", name, r.Status)
			}
		}
		if e.User(t, u.ID).PasswordHash != u.PasswordHash {
			t.Fatal("the password changed")
		}
	})

	t.Run("case=an expired reset link is refused even with a valid mac", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		exp := time.Now().Add(-time.Second).Unix()
		msg := u.ID + "\x00" + strconv.FormatInt(exp, 10) + "\x00" + u.PasswordHash
		tok := base64.RawURLEncoding.EncodeToString([]byte(u.ID)) + "." + strconv.FormatInt(exp, 10) + "." +
			base64.RawURLEncoding.EncodeToString(e.Box.Hash("latch password-reset v1", []byte(msg)))
		fresh := strings.Replace(tok, "."+strconv.FormatInt(exp, 10)+".", "."+strconv.FormatInt(exp+3600, 10)+".", 1)
		freshMsg := u.ID + "\x00" + strconv.FormatInt(exp+3600, 10) + "\x00" + u.PasswordHash
		fresh = fresh[:strings.LastIndexByte(fresh, '.')+1] + base64.RawURLEncoding.EncodeToString(e.Box.Hash("latch password-reset v1", []byte(freshMsg)))
		c := e.NewClient()
		// The hand-made token has the real format: unexpired, it works.
		webtest.MustStatus(t, c.Get(t, "/reset?token="+url.QueryEscape(fresh)), http.StatusOK)
		webtest.MustStatus(t, c.Get(t, "/reset?token="+url.QueryEscape(tok)), http.StatusBadRequest)
		webtest.MustStatus(t, c.Submit(t, "/reset", url.Values{"token": {tok}, "new_password": {"an attacker's new passphrase"}}), http.StatusBadRequest)
	})

	t.Run("case=a reset link dies when the password changes on the account page", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		tok := resetToken(t, e, c, email)
		webtest.MustRedirect(t, c.Login(t, email, pw), "/account")
		webtest.MustRedirect(t, c.Submit(t, "/account/password", url.Values{"current_password": {pw}, "new_password": {"a changed passphrase here"}}), "/account?done=password")
		webtest.MustStatus(t, c.Get(t, "/reset?token="+url.QueryEscape(tok)), http.StatusBadRequest)
		webtest.MustStatus(t, c.Submit(t, "/reset", url.Values{"token": {tok}, "new_password": {"an attacker's new passphrase"}}), http.StatusBadRequest)
	})

	t.Run("case=a reset link is refused once the account is disabled", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		tok := resetToken(t, e, c, email)
		disable(t, e, u.ID)
		webtest.MustStatus(t, c.Get(t, "/reset?token="+url.QueryEscape(tok)), http.StatusBadRequest)
		webtest.MustStatus(t, c.Submit(t, "/reset", url.Values{"token": {tok}, "new_password": {"an attacker's new passphrase"}}), http.StatusBadRequest)
		if got := e.User(t, u.ID); got.PasswordHash != u.PasswordHash || !got.Disabled {
			t.Fatal("a disabled account was reset")
		}
	})

	t.Run("case=a reset link used once is dead, even in a race", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		tok := resetToken(t, e, c, email)
		got := race(t, e, c, "/reset", url.Values{"token": {tok}, "new_password": {"racing new passphrase"}, "csrf_token": {c.CSRF(t)}}, 5)
		if got[http.StatusSeeOther] != 1 {
			t.Fatalf("answers %v: want exactly one reset", got)
		}
		if e.CountMail(u.Email, "password_changed") != 1 {
			t.Errorf("%d password-changed mails", e.CountMail(u.Email, "password_changed"))
		}
	})

	t.Run("case=a verification link cannot verify another address", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{Registration: true})
		c := e.NewClient()
		webtest.MustStatus(t, c.Submit(t, "/register", url.Values{"email": {"mine@example.com"}, "password": {pw}}), http.StatusOK)
		webtest.MustStatus(t, c.Submit(t, "/register", url.Values{"email": {"theirs@example.com"}, "password": {pw}}), http.StatusOK)
		link, _ := url.Parse(e.LastMail(t, "mine@example.com", "verify_email").Data["link"])
		tok := link.Query().Get("token")
		parts := strings.Split(tok, ".")
		swapped := base64.RawURLEncoding.EncodeToString([]byte("theirs@example.com")) + "." + parts[1] + "." + parts[2]
		webtest.MustStatus(t, c.Get(t, "/verify?token="+url.QueryEscape(swapped)), http.StatusBadRequest)
		webtest.MustStatus(t, c.Submit(t, "/verify", url.Values{"token": {swapped}}), http.StatusBadRequest)
		upper := base64.RawURLEncoding.EncodeToString([]byte("MINE@example.com")) + "." + parts[1] + "." + parts[2]
		webtest.MustStatus(t, c.Submit(t, "/verify", url.Values{"token": {upper}}), http.StatusBadRequest)
		theirs, _ := e.Store.GetUserByEmail(t.Context(), "theirs@example.com")
		if theirs.EmailVerified {
			t.Fatal("another address was verified")
		}
		// A reset token is no verification token.
		webtest.MustStatus(t, c.Submit(t, "/verify", url.Values{"token": {resetToken(t, e, c, "mine@example.com")}}), http.StatusBadRequest)
		// Viewing the link does not use it up; the button does.
		webtest.MustStatus(t, c.Get(t, link.String()), http.StatusOK)
		mine, _ := e.Store.GetUserByEmail(t.Context(), "mine@example.com")
		if mine.EmailVerified {
			t.Fatal("a GET verified the address")
		}
		webtest.MustRedirect(t, c.Submit(t, "/verify", url.Values{"token": {tok}}), "/login?done=verified")
	})
}

func TestAttackCSRF(t *testing.T) {
	e := webtest.New(t, webtest.Options{Registration: true})
	e.CreateUser(t, email, pw, nil)
	c := e.NewClient()
	tok := c.CSRF(t)
	form := url.Values{"email": {email}, "password": {pw}}
	paths := []string{"/login", "/login/code", "/login/new-password", "/register", "/verify", "/verify/resend", "/register/resend", "/forgot", "/reset", "/consent",
		"/account/password", "/account/totp", "/account/totp/disable", "/account/backup-codes", "/account/apps/revoke", "/account/sessions/end", "/account/signout"}

	send := func(t *testing.T, path, contentType string, body []byte) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.URL+path, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		resp, err := c.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	t.Run("case=a token in the query string instead of the body is refused", func(t *testing.T) {
		for _, path := range paths {
			webtest.MustStatus(t, c.Post(t, path+"?csrf_token="+url.QueryEscape(tok), form), http.StatusForbidden)
		}
	})

	t.Run("case=JSON, text and multipart bodies do not pass the check", func(t *testing.T) {
		var mp bytes.Buffer
		w := multipart.NewWriter(&mp)
		w.WriteField("csrf_token", tok)
		w.WriteField("email", email)
		w.WriteField("password", pw)
		w.Close()
		for _, path := range paths {
			for name, st := range map[string]int{
				"json":      send(t, path, "application/json", []byte(`{"csrf_token":"`+tok+`","email":"`+email+`","password":"`+pw+`"}`)),
				"text":      send(t, path, "text/plain", []byte("csrf_token="+tok+"&email="+email+"&password="+url.QueryEscape(pw))),
				"multipart": send(t, path, w.FormDataContentType(), mp.Bytes()),
				"none":      send(t, path, "", []byte("csrf_token="+tok+"&email="+email)),
			} {
				if st != http.StatusForbidden && st != http.StatusBadRequest {
					t.Errorf("%s %s: %d, want 403", name, path, st)
				}
			}
		}
		if c.Cookie(e.Sessions.CookieName()) != "" {
			t.Fatal("a cross-site body signed in")
		}
	})

	t.Run("case=a token of another browser or a replayed cookie pair from another browser fails", func(t *testing.T) {
		other := e.NewClient()
		otherTok := other.CSRF(t)
		webtest.MustStatus(t, c.Post(t, "/login", url.Values{"email": {email}, "password": {pw}, "csrf_token": {otherTok}}), http.StatusForbidden)
		// The token is bound to the cookie, not to a time or a page: a
		// fresh browser without the cookie gets 403 with the right token.
		fresh := e.NewClient()
		webtest.MustStatus(t, fresh.Post(t, "/login", url.Values{"email": {email}, "password": {pw}, "csrf_token": {tok}}), http.StatusForbidden)
	})

	t.Run("case=GET never changes state", func(t *testing.T) {
		s := e.NewClient()
		webtest.MustRedirect(t, s.Login(t, email, pw), "/account")
		for _, path := range []string{"/account/signout", "/account/password", "/account/sessions/end", "/account/apps/revoke", "/account/totp/disable", "/account/backup-codes"} {
			if r := s.Get(t, path+"?csrf_token="+url.QueryEscape(s.CSRF(t))); r.Status != http.StatusMethodNotAllowed {
				t.Errorf("GET %s: %d", path, r.Status)
			}
		}
		webtest.MustStatus(t, s.Get(t, "/account"), http.StatusOK)
	})
}

func TestAttackOutput(t *testing.T) {
	const evil = `<script>alert(1)</script>"'><img src=x onerror=alert(1)>`
	t.Run("case=user-controlled values are escaped on the login, consent and forgot pages", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{Registration: true})
		e.CreateUser(t, email, pw, nil)
		f := e.StartFlow(t, webtest.ThirdParty+"evil", []string{"openid", evil}, func(f *flow.Flow) {
			f.ClientName = evil
			f.LoginHint = evil
		})
		c := e.NewClient()
		pages := map[string]*webtest.Response{"login": c.Get(t, "/login?flow="+f.ID)}
		pages["login failure"] = c.Submit(t, "/login", url.Values{"email": {evil}, "password": {"x"}, "flow": {f.ID}})
		pages["forgot"] = c.Submit(t, "/forgot", url.Values{"email": {evil}})
		pages["register"] = c.Submit(t, "/register", url.Values{"email": {evil}, "name": {evil}, "password": {"x"}})
		pages["register flow"] = c.Get(t, "/register?flow="+url.QueryEscape(evil))
		pages["code"] = c.Get(t, "/login/code")
		r := c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "flow": {f.ID}})
		pages["consent"] = c.Follow(t, r)
		for name, p := range pages {
			if strings.Contains(p.Body, "<script>") || strings.Contains(p.Body, "<img") || strings.Contains(p.Body, `"'>`) {
				t.Errorf("%s: unescaped value:\n%s", name, p.Body)
			}
		}
		if !strings.Contains(pages["consent"].Body, "&lt;script&gt;") {
			t.Errorf("the consent page does not show the escaped client name:\n%s", pages["consent"].Body)
		}
	})

	t.Run("case=no open redirect through return_to, done or flow", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{Registration: true})
		e.CreateUser(t, email, pw, nil)
		for _, bad := range []string{"//evil.example", "/\\evil.example", "\\\\evil.example", "https:evil.example", "/\t/evil.example",
			" //evil.example", "http://localhost/", "///evil.example", "/\r\n/evil.example", "evil.example"} {
			c := e.NewClient()
			page := c.Get(t, "/login?return_to="+url.QueryEscape(bad))
			if strings.Contains(page.Body, "evil.example") {
				t.Errorf("%q: the login page carries it", bad)
			}
			if r := c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "return_to": {bad}}); r.Location != "/account" {
				t.Errorf("%q: redirected to %q", bad, r.Location)
			}
			// Signed in, the login page redirects at once: still local.
			if r := c.Get(t, "/login?return_to="+url.QueryEscape(bad)); r.Location != "/account" {
				t.Errorf("%q: signed-in redirect to %q", bad, r.Location)
			}
		}
		// Local paths that a careless join or a browser could read as
		// another host stay on this one once redirected.
		base, _ := url.Parse(e.URL)
		for _, odd := range []string{"/.//evil.example", "/a/..//evil.example", "/%2F%2Fevil.example", "/%5Cevil.example", "/..//evil.example/"} {
			c := e.NewClient()
			r := c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "return_to": {odd}})
			loc, err := base.Parse(r.Location)
			if r.Status != http.StatusSeeOther || err != nil || loc.Host != base.Host || strings.HasPrefix(r.Location, "//") || strings.Contains(r.Location, "\\") {
				t.Errorf("%q: redirected to %q", odd, r.Location)
			}
		}
		c := e.NewClient()
		webtest.MustStatus(t, c.Get(t, "/login?flow="+url.QueryEscape("https://evil.example/")), http.StatusBadRequest)
		r := c.Submit(t, "/register", url.Values{"email": {"new@example.com"}, "password": {pw}, "flow": {"//evil.example"}})
		webtest.MustStatus(t, r, http.StatusOK)
		for _, href := range webtest.Attr(r.Body, "href") {
			if !strings.HasPrefix(href, "/") || strings.HasPrefix(href, "//") {
				t.Errorf("link %q leaves the site", href)
			}
		}
		if r := c.Get(t, "/login?done="+url.QueryEscape("https://evil.example/")); strings.Contains(r.Body, "evil.example") {
			t.Error("done is shown as given")
		}
	})

	t.Run("case=error pages never show internal errors", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		webtest.MustRedirect(t, c.Login(t, email, pw), "/account")
		tok := c.CSRF(t)
		// Redis goes away: every page that needs it fails, politely.
		e.Redis.Close()
		for _, r := range []*webtest.Response{
			c.Post(t, "/login", url.Values{"email": {email}, "password": {pw}, "csrf_token": {tok}}),
			c.Post(t, "/forgot", url.Values{"email": {email}, "csrf_token": {tok}}),
			c.Get(t, "/login?flow=abc"),
			c.Get(t, "/account"),
			c.Get(t, e.Flows.URL(flow.StageConsent, "abc")),
		} {
			webtest.MustStatus(t, r, http.StatusInternalServerError)
			if !strings.Contains(r.Body, "Something went wrong on our side") {
				t.Errorf("not the generic error page:\n%s", r.Body)
			}
			low := strings.ToLower(r.Body)
			for _, leak := range []string{"redis", "closed", "goroutine", ".go:", "panic"} {
				if strings.Contains(low, leak) {
					t.Errorf("the error page shows %q:\n%s", leak, r.Body)
				}
			}
		}
	})
}

// changedOnRead is a login store whose next user read, once armed, finds
// the password changed just before it: a change that lands while a
// sign-in completes.
type changedOnRead struct {
	login.Store
	e     *webtest.Env
	armed atomic.Bool
}

func (s *changedOnRead) GetUser(ctx context.Context, id string) (storage.User, error) {
	if s.armed.CompareAndSwap(true, false) {
		if _, err := s.e.Store.UpdateUser(ctx, id, storage.Effects{}, func(u *storage.User) error {
			u.PasswordHash += "-changed"
			return nil
		}); err != nil {
			return storage.User{}, err
		}
	}
	return s.Store.GetUser(ctx, id)
}

func TestAttackSignInRacingAPasswordChange(t *testing.T) {
	var store *changedOnRead
	e := webtest.New(t, webtest.Options{LoginStore: func(s login.Store) login.Store {
		store = &changedOnRead{Store: s}
		return store
	}})
	store.e = e
	u := e.CreateUser(t, email, pw, nil)
	c := e.NewClient()
	c.CSRF(t)
	store.armed.Store(true)
	r := c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}})
	if r.Status == http.StatusSeeOther {
		t.Fatalf("a sign-in overtaken by a password change completed: %q", r.Location)
	}
	if sessions, err := e.Sessions.List(t.Context(), u.ID); err != nil || len(sessions) != 0 {
		t.Fatalf("sessions after the change: %d, %v", len(sessions), err)
	}
}
