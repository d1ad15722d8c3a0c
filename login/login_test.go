package login_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/mfa"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web/webtest"
)

const (
	email = "ada@example.com"
	pw    = "lovelace analytical engine 1843"
)

func TestPasswordLogin(t *testing.T) {
	t.Run("case=without a flow it lands on the account page", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		webtest.MustStatus(t, c.Get(t, "/login"), http.StatusOK)
		webtest.MustRedirect(t, c.Login(t, "  ADA@example.com ", pw), "/account")
		acct := c.Get(t, "/account")
		webtest.MustStatus(t, acct, http.StatusOK)
		if !strings.Contains(acct.Body, email) {
			t.Fatalf("account page does not show the user")
		}
		if got := e.User(t, u.ID); got.LastLoginAt.IsZero() {
			t.Error("LastLoginAt was not set")
		}
		events, _ := e.Store.ListAudit(t.Context(), u.ID, 10)
		if len(events) == 0 || events[0].Kind != "login_succeeded" {
			t.Errorf("audit = %+v, want login_succeeded first", events)
		}
	})

	t.Run("case=with a flow it resumes the flow with the session", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		f := e.StartFlow(t, "first", []string{"openid"}, func(f *flow.Flow) { f.LoginHint = email })
		c := e.NewClient()
		page := c.Get(t, "/login?flow="+f.ID)
		webtest.MustStatus(t, page, http.StatusOK)
		if !strings.Contains(page.Body, `value="`+email+`"`) {
			t.Error("login hint is not prefilled")
		}
		r := c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "flow": {f.ID}})
		webtest.MustRedirect(t, r, e.Flows.URL(flow.StageResume, f.ID))
		got, err := e.Flows.Get(t.Context(), f.ID, flow.StageResume)
		if err != nil {
			t.Fatal(err)
		}
		sessions, _ := e.Sessions.List(t.Context(), u.ID)
		if len(sessions) != 1 {
			t.Fatalf("%d sessions, want 1", len(sessions))
		}
		if got.UserID != u.ID || got.SessionID != sessions[0].ID || got.AuthTime.IsZero() || strings.Join(got.AMR, " ") != "pwd" {
			t.Errorf("flow after login = %+v", got)
		}
		// The login state cannot be replayed.
		webtest.MustStatus(t, c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "flow": {f.ID}}), http.StatusBadRequest)
	})

	t.Run("case=a live session resumes a flow without a password unless login is forced", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		webtest.MustRedirect(t, c.Login(t, email, pw), "/account")
		f := e.StartFlow(t, "first", []string{"openid"}, nil)
		webtest.MustRedirect(t, c.Get(t, "/login?flow="+f.ID), e.Flows.URL(flow.StageResume, f.ID))
		forced := e.StartFlow(t, "first", []string{"openid"}, func(f *flow.Flow) { f.ForceLogin = true })
		page := c.Get(t, "/login?flow="+forced.ID)
		webtest.MustStatus(t, page, http.StatusOK)
		if !strings.Contains(page.Body, `name="password"`) {
			t.Error("forced login does not ask for the password")
		}
	})

	t.Run("case=return_to never leaves the site", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		for _, bad := range []string{"//evil.example", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"} {
			c := e.NewClient()
			webtest.MustRedirect(t, c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "return_to": {bad}}), "/account")
		}
		c := e.NewClient()
		webtest.MustRedirect(t, c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "return_to": {"/account?x=1"}}), "/account?x=1")
	})

	t.Run("case=a weaker stored hash is upgraded", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		weak, err := password.NewHasher(password.Params{Memory: 512, Iterations: 1, Parallelism: 1}, 1, time.Second).Hash(t.Context(), pw)
		if err != nil {
			t.Fatal(err)
		}
		u := e.CreateUser(t, email, pw, func(u *storage.User) { u.PasswordHash = weak })
		webtest.MustRedirect(t, e.NewClient().Login(t, email, pw), "/account")
		got := e.User(t, u.ID)
		if got.PasswordHash == weak {
			t.Fatal("hash was not upgraded")
		}
		if ok, rehash, err := e.Hasher.Verify(t.Context(), got.PasswordHash, pw); !ok || rehash || err != nil {
			t.Fatalf("upgraded hash: ok=%v rehash=%v err=%v", ok, rehash, err)
		}
	})
}

func TestFailures(t *testing.T) {
	t.Run("case=unknown email and wrong password get the same answer", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		wrong := c.Login(t, email, "not the password at all")
		unknown := c.Login(t, "nobody@example.com", "not the password at all")
		if wrong.Status != http.StatusUnauthorized || unknown.Status != wrong.Status {
			t.Fatalf("statuses %d and %d", wrong.Status, unknown.Status)
		}
		if a, b := strings.ReplaceAll(wrong.Body, email, "X"), strings.ReplaceAll(unknown.Body, "nobody@example.com", "X"); a != b {
			t.Fatalf("bodies differ:\n%s\n----\n%s", a, b)
		}
		if !strings.Contains(wrong.Body, "The email or password is incorrect.") {
			t.Error("no failure message")
		}
	})

	t.Run("case=a disabled user cannot sign in and gets the generic message", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, func(u *storage.User) { u.Disabled = true })
		c := e.NewClient()
		r := c.Login(t, email, pw)
		webtest.MustStatus(t, r, http.StatusUnauthorized)
		if !strings.Contains(r.Body, "The email or password is incorrect.") {
			t.Error("disabled user does not get the generic message")
		}
		if c.Cookie(e.Sessions.CookieName()) != "" {
			t.Error("disabled user got a session")
		}
	})

	t.Run("case=five failures lock the account, known or not, with when to retry", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		for i := 0; i < 4; i++ {
			webtest.MustStatus(t, c.Login(t, email, "wrong password number"), http.StatusUnauthorized)
			webtest.MustStatus(t, c.Login(t, "ghost@example.com", "wrong password number"), http.StatusUnauthorized)
		}
		known := c.Login(t, email, "wrong password number")
		ghost := c.Login(t, "ghost@example.com", "wrong password number")
		for _, r := range []*webtest.Response{known, ghost} {
			webtest.MustStatus(t, r, http.StatusTooManyRequests)
			if !strings.Contains(r.Body, "Too many failed attempts. Try again in") || r.Header.Get("Retry-After") == "" {
				t.Errorf("lockout answer lacks the retry time: %s", r.Body)
			}
		}
		if a, b := strings.ReplaceAll(known.Body, email, "X"), strings.ReplaceAll(ghost.Body, "ghost@example.com", "X"); a != b {
			t.Error("a lockout tells known and unknown accounts apart")
		}
		// Even the right password waits.
		webtest.MustStatus(t, c.Login(t, email, pw), http.StatusTooManyRequests)
	})

	t.Run("case=twenty failures from one address lock the address", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		for i := 0; i < 19; i++ {
			webtest.MustStatus(t, c.Login(t, "user"+string(rune('a'+i))+"@example.com", "wrong password number"), http.StatusUnauthorized)
		}
		webtest.MustStatus(t, c.Login(t, "last@example.com", "wrong password number"), http.StatusTooManyRequests)
		webtest.MustStatus(t, c.Login(t, email, pw), http.StatusTooManyRequests)
	})
}

func TestCSRF(t *testing.T) {
	e := webtest.New(t, webtest.Options{Registration: true})
	e.CreateUser(t, email, pw, nil)
	c := e.NewClient()
	other := e.NewClient()
	form := url.Values{"email": {email}, "password": {pw}}
	for name, tok := range map[string]string{"missing": "", "wrong": "AAAA", "another browser's": other.CSRF(t)} {
		t.Run("case="+name+" token gets 403", func(t *testing.T) {
			c.CSRF(t) // the client has its cookie
			f := url.Values{"email": form["email"], "password": form["password"]}
			if tok != "" {
				f.Set("csrf_token", tok)
			}
			for _, path := range []string{"/login", "/register", "/forgot", "/login/code", "/reset", "/verify/resend", "/register/resend", "/consent", "/account/password", "/account/signout"} {
				r := c.Post(t, path, f)
				webtest.MustStatus(t, r, http.StatusForbidden)
			}
		})
	}
	t.Run("case=no cookie gets 403", func(t *testing.T) {
		fresh := e.NewClient()
		f := url.Values{"email": form["email"], "password": form["password"], "csrf_token": {c.CSRF(t)}}
		webtest.MustStatus(t, fresh.Post(t, "/login", f), http.StatusForbidden)
	})
	t.Run("case=the right token passes", func(t *testing.T) {
		webtest.MustRedirect(t, c.Submit(t, "/login", form), "/account")
	})
}

func TestSecurityHeaders(t *testing.T) {
	e := webtest.New(t, webtest.Options{Registration: true})
	e.CreateUser(t, email, pw, nil)
	c := e.NewClient()
	check := func(t *testing.T, path string, r *webtest.Response) {
		t.Helper()
		h := r.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		for k, want := range map[string]string{"X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"} {
			if h.Get(k) != want {
				t.Errorf("%s: %s = %q, want %q", path, k, h.Get(k), want)
			}
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over plain http", path)
		}
	}
	for _, path := range []string{"/login", "/register", "/forgot", "/verify?token=x", "/reset?token=x", "/login/code", "/account", "/consent?flow=x", "/static/latch.css"} {
		check(t, path, c.Get(t, path))
	}
	check(t, "POST /login", c.Login(t, email, "wrong password here"))
	unverified(t, e, "unverified@example.com")
	check(t, "POST /login unverified", c.Login(t, "unverified@example.com", pw))
	webtest.MustRedirect(t, c.Login(t, email, pw), "/account")
	check(t, "/account signed in", c.Get(t, "/account"))
	check(t, "/account/totp", c.Get(t, "/account/totp"))
	check(t, "POST without CSRF", c.Post(t, "/login", nil))
}

func TestTOTPLogin(t *testing.T) {
	t.Run("case=a TOTP code completes the sign-in once", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		secret := e.EnableTOTP(t, u.ID)
		f := e.StartFlow(t, "first", []string{"openid"}, nil)
		c := e.NewClient()
		webtest.MustRedirect(t, c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "flow": {f.ID}}), "/login/code")
		if c.Cookie(e.Sessions.CookieName()) != "" {
			t.Fatal("a session exists before the second step")
		}
		page := c.Get(t, "/login/code")
		webtest.MustStatus(t, page, http.StatusOK)
		if !strings.Contains(page.Body, `name="code"`) || !strings.Contains(page.Body, `autocomplete="one-time-code"`) {
			t.Error("code page lacks the code field")
		}
		// Backup codes have letters: a phone must offer its full keyboard.
		if strings.Contains(page.Body, `inputmode="numeric"`) {
			t.Error("the code field asks phones for digits only")
		}
		webtest.MustStatus(t, c.Submit(t, "/login/code", url.Values{"code": {"000000"}}), http.StatusUnauthorized)
		code := webtest.Code(t, secret, 0)
		webtest.MustRedirect(t, c.Submit(t, "/login/code", url.Values{"code": {code}}), e.Flows.URL(flow.StageResume, f.ID))
		got, err := e.Flows.Get(t.Context(), f.ID, flow.StageResume)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(got.AMR, " ") != "pwd otp" {
			t.Errorf("AMR = %v", got.AMR)
		}

		t.Run("case=a replayed code is refused", func(t *testing.T) {
			c2 := e.NewClient()
			webtest.MustRedirect(t, c2.Login(t, email, pw), "/login/code")
			r := c2.Submit(t, "/login/code", url.Values{"code": {code}})
			webtest.MustStatus(t, r, http.StatusUnauthorized)
			if c2.Cookie(e.Sessions.CookieName()) != "" {
				t.Error("a replayed code got a session")
			}
			// The next step's code works.
			webtest.MustRedirect(t, c2.Submit(t, "/login/code", url.Values{"code": {webtest.Code(t, secret, 30*time.Second)}}), "/account")
		})
	})

	t.Run("case=a backup code is accepted once", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		e.EnableTOTP(t, u.ID)
		codes, _ := mfa.GenerateBackupCodes(10)
		var hashes [][]byte
		for _, c := range codes {
			hashes = append(hashes, mfa.HashBackupCode(e.Box, c))
		}
		if err := e.Store.ReplaceBackupCodes(t.Context(), u.ID, hashes, storage.Effects{}); err != nil {
			t.Fatal(err)
		}
		c := e.NewClient()
		webtest.MustRedirect(t, c.Login(t, email, pw), "/login/code")
		webtest.MustRedirect(t, c.Submit(t, "/login/code", url.Values{"code": {strings.ToUpper(codes[3])}}), "/account")
		c2 := e.NewClient()
		webtest.MustRedirect(t, c2.Login(t, email, pw), "/login/code")
		webtest.MustStatus(t, c2.Submit(t, "/login/code", url.Values{"code": {codes[3]}}), http.StatusUnauthorized)
		if n, _ := e.Store.CountBackupCodes(t.Context(), u.ID); n != 9 {
			t.Errorf("%d unused codes, want 9", n)
		}
	})

	t.Run("case=wrong codes are rate limited", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		e.EnableTOTP(t, u.ID)
		c := e.NewClient()
		webtest.MustRedirect(t, c.Login(t, email, pw), "/login/code")
		for i := 0; i < 4; i++ {
			webtest.MustStatus(t, c.Submit(t, "/login/code", url.Values{"code": {"000000"}}), http.StatusUnauthorized)
		}
		r := c.Submit(t, "/login/code", url.Values{"code": {"000000"}})
		webtest.MustStatus(t, r, http.StatusTooManyRequests)
		if !strings.Contains(r.Body, "Try again in") {
			t.Error("no retry time")
		}
	})

	t.Run("case=the code page without a pending sign-in goes back to the login page", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		webtest.MustRedirect(t, e.NewClient().Get(t, "/login/code"), "/login")
	})
}

func TestNewPasswordAtLogin(t *testing.T) {
	t.Run("case=a breached current password must be replaced before anything else", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		other := e.NewClient()
		webtest.MustRedirect(t, other.Login(t, email, pw), "/account")
		e.Breach(pw)
		f := e.StartFlow(t, "first", []string{"openid"}, nil)
		c := e.NewClient()
		webtest.MustRedirect(t, c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "flow": {f.ID}}), "/login/new-password")
		if c.Cookie(e.Sessions.CookieName()) != "" {
			t.Fatal("a session exists before the new password")
		}
		page := c.Get(t, "/login/new-password")
		webtest.MustStatus(t, page, http.StatusOK)
		if !strings.Contains(page.Body, `name="new_password"`) || !strings.Contains(page.Body, `autocomplete="new-password"`) {
			t.Fatal("no new password field")
		}
		e.Breach("another breached password 99")
		r := c.Submit(t, "/login/new-password", url.Values{"new_password": {"another breached password 99"}})
		webtest.MustStatus(t, r, http.StatusBadRequest)
		if !strings.Contains(r.Body, password.BreachedMessage) || !strings.Contains(r.Body, `aria-describedby="new-password-hint new-password-error"`) {
			t.Errorf("breached new password: %s", r.Body)
		}
		webtest.MustStatus(t, c.Submit(t, "/login/new-password", url.Values{"new_password": {"short"}}), http.StatusBadRequest)
		webtest.MustRedirect(t, c.Submit(t, "/login/new-password", url.Values{"new_password": {"a fresh and unbreached passphrase"}}), e.Flows.URL(flow.StageResume, f.ID))
		if ok, _, _ := e.Hasher.Verify(t.Context(), e.User(t, u.ID).PasswordHash, "a fresh and unbreached passphrase"); !ok {
			t.Error("new password not stored")
		}
		e.LastMail(t, email, "password_changed")
		webtest.MustRedirect(t, other.Get(t, "/account"), "/login?return_to=/account")
	})

	t.Run("case=password_must_change comes after the code", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, func(u *storage.User) { u.PasswordMustChange = true })
		secret := e.EnableTOTP(t, u.ID)
		c := e.NewClient()
		webtest.MustRedirect(t, c.Login(t, email, pw), "/login/code")
		webtest.MustRedirect(t, c.Get(t, "/login/new-password"), "/login/code")
		webtest.MustRedirect(t, c.Submit(t, "/login/code", url.Values{"code": {webtest.Code(t, secret, 0)}}), "/login/new-password")
		r := c.Submit(t, "/login/new-password", url.Values{"new_password": {pw}})
		webtest.MustStatus(t, r, http.StatusBadRequest)
		if !strings.Contains(r.Body, "different from your current one") {
			t.Error("the same password was not refused")
		}
		webtest.MustRedirect(t, c.Submit(t, "/login/new-password", url.Values{"new_password": {"a fresh and unbreached passphrase"}}), "/account")
		if e.User(t, u.ID).PasswordMustChange {
			t.Error("password_must_change still set")
		}
		sessions, _ := e.Sessions.List(t.Context(), u.ID)
		if len(sessions) != 1 || strings.Join(sessions[0].AMR, " ") != "pwd otp" {
			t.Errorf("sessions = %+v", sessions)
		}
	})
}

func TestRegistration(t *testing.T) {
	t.Run("case=register, verify from the mailed link, and the link dies", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{Registration: true})
		c := e.NewClient()
		webtest.MustStatus(t, c.Get(t, "/register"), http.StatusOK)
		r := c.Submit(t, "/register", url.Values{"email": {"New@Example.com"}, "name": {"New User"}, "password": {pw}})
		webtest.MustStatus(t, r, http.StatusOK)
		if !strings.Contains(r.Body, "before you sign in") || strings.Contains(r.Body, "sign in now") {
			t.Errorf("registration does not say the link must be opened first: %s", r.Body)
		}
		webtest.MustStatus(t, c.Login(t, "new@example.com", pw), http.StatusForbidden)
		u, err := e.Store.GetUserByEmail(t.Context(), "new@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if u.Role != storage.RoleUser || u.EmailVerified || u.Name != "New User" {
			t.Fatalf("registered user = %+v", u)
		}
		link := e.LastMail(t, "new@example.com", "verify_email").Data["link"]
		if !strings.HasPrefix(link, e.URL+"/verify?token=") {
			t.Fatalf("link %q", link)
		}
		page := c.Get(t, link)
		webtest.MustStatus(t, page, http.StatusOK)
		token := webtest.Attr(page.Body, `name="token" value`)
		if len(token) != 1 {
			t.Fatalf("no token on the confirmation page")
		}
		webtest.MustRedirect(t, c.Submit(t, "/verify", url.Values{"token": token}), "/login?done=verified")
		if !e.User(t, u.ID).EmailVerified {
			t.Fatal("email not verified")
		}
		webtest.MustStatus(t, c.Get(t, link), http.StatusBadRequest)
		webtest.MustStatus(t, c.Submit(t, "/verify", url.Values{"token": token}), http.StatusBadRequest)
		webtest.MustRedirect(t, c.Login(t, "new@example.com", pw), "/account")
	})

	t.Run("case=a taken email gets the same answer and no mail", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{Registration: true})
		e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		taken := c.Submit(t, "/register", url.Values{"email": {email}, "password": {pw}})
		fresh := c.Submit(t, "/register", url.Values{"email": {"zed@example.com"}, "password": {pw}})
		webtest.MustStatus(t, taken, http.StatusOK)
		if masked(taken.Body, email) != masked(fresh.Body, "zed@example.com") {
			t.Error("registration tells taken emails apart")
		}
		if e.CountMail(email, "verify_email") != 0 {
			t.Error("mail to an existing account")
		}
	})

	t.Run("case=a breached or short password is refused", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{Registration: true})
		e.Breach("this one was in a breach")
		c := e.NewClient()
		r := c.Submit(t, "/register", url.Values{"email": {"b@example.com"}, "password": {"this one was in a breach"}})
		webtest.MustStatus(t, r, http.StatusBadRequest)
		if !strings.Contains(r.Body, password.BreachedMessage) || !strings.Contains(r.Body, `id="password-error"`) {
			t.Errorf("breached password: %s", r.Body)
		}
		webtest.MustStatus(t, c.Submit(t, "/register", url.Values{"email": {"b@example.com"}, "password": {"password"}}), http.StatusBadRequest)
		webtest.MustStatus(t, c.Submit(t, "/register", url.Values{"email": {"b@example.com"}, "password": {"short"}}), http.StatusBadRequest)
		if _, err := e.Store.GetUserByEmail(t.Context(), "b@example.com"); !errors.Is(err, storage.ErrNotFound) {
			t.Error("a user was created")
		}
	})

	t.Run("case=registrations from one address are limited", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{Registration: true})
		c := e.NewClient()
		// webtest's IP limit is 20 within the window: the 20th is refused.
		for i := range 19 {
			webtest.MustStatus(t, c.Submit(t, "/register", url.Values{"email": {fmt.Sprintf("u%d@example.com", i)}, "password": {pw}}), http.StatusOK)
		}
		r := c.Submit(t, "/register", url.Values{"email": {"last@example.com"}, "password": {pw}})
		webtest.MustStatus(t, r, http.StatusTooManyRequests)
		if e.CountMail("last@example.com", "verify_email") != 0 {
			t.Error("a limited registration sent mail")
		}
	})

	t.Run("case=closed registration", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{Registration: false})
		c := e.NewClient()
		webtest.MustStatus(t, c.Get(t, "/register"), http.StatusNotFound)
		webtest.MustStatus(t, c.Submit(t, "/register", url.Values{"email": {"x@example.com"}, "password": {pw}}), http.StatusNotFound)
	})
}

func TestReset(t *testing.T) {
	t.Run("case=reset mail to one address is capped, with the same answer", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		first := c.Submit(t, "/forgot", url.Values{"email": {email}})
		webtest.MustStatus(t, first, http.StatusOK)
		for range 9 {
			r := c.Submit(t, "/forgot", url.Values{"email": {email}})
			webtest.MustStatus(t, r, http.StatusOK)
			if r.Body != first.Body {
				t.Fatal("a capped request must get the same answer")
			}
		}
		if n := e.CountMail(email, "password_reset"); n == 0 || n >= 10 {
			t.Fatalf("want the reset mails capped below the 10 requests, got %d", n)
		}
	})
	t.Run("case=reset end to end revokes sessions and the link dies", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		signedIn := e.NewClient()
		webtest.MustRedirect(t, signedIn.Login(t, email, pw), "/account")

		c := e.NewClient()
		webtest.MustStatus(t, c.Get(t, "/forgot"), http.StatusOK)
		known := c.Submit(t, "/forgot", url.Values{"email": {email}})
		unknown := c.Submit(t, "/forgot", url.Values{"email": {"nobody@example.com"}})
		webtest.MustStatus(t, known, http.StatusOK)
		if strings.ReplaceAll(known.Body, email, "X") != strings.ReplaceAll(unknown.Body, "nobody@example.com", "X") {
			t.Error("/forgot tells accounts apart")
		}
		m := e.LastMail(t, email, "password_reset")
		link := m.Data["link"]
		if !strings.HasPrefix(link, e.URL+"/reset?token=") || m.Data["expires"] == "" {
			t.Fatalf("mail %+v", m)
		}
		page := c.Get(t, link)
		webtest.MustStatus(t, page, http.StatusOK)
		token := webtest.Attr(page.Body, `name="token" value`)
		e.Breach("breached reset password")
		webtest.MustStatus(t, c.Submit(t, "/reset", url.Values{"token": token, "new_password": {"breached reset password"}}), http.StatusBadRequest)
		webtest.MustRedirect(t, c.Submit(t, "/reset", url.Values{"token": token, "new_password": {"my brand new passphrase"}}), "/login?done=reset")

		webtest.MustRedirect(t, signedIn.Get(t, "/account"), "/login?return_to=/account")
		if sessions, _ := e.Sessions.List(t.Context(), u.ID); len(sessions) != 0 {
			t.Errorf("%d sessions survived the reset", len(sessions))
		}
		e.LastMail(t, email, "password_changed")
		webtest.MustStatus(t, c.Get(t, link), http.StatusBadRequest)
		webtest.MustStatus(t, c.Submit(t, "/reset", url.Values{"token": token, "new_password": {"another new passphrase"}}), http.StatusBadRequest)
		webtest.MustStatus(t, c.Login(t, email, pw), http.StatusUnauthorized)
		webtest.MustRedirect(t, c.Login(t, email, "my brand new passphrase"), "/account")
		if got := e.User(t, u.ID); !got.EmailVerified {
			t.Error("a reset did not mark the email verified")
		}
	})

	t.Run("case=a forged or expired token is refused", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		for _, tok := range []string{"", "abc", "YWJj.1.YWJj", u.ID + ".99999999999.AAAA"} {
			webtest.MustStatus(t, c.Get(t, "/reset?token="+url.QueryEscape(tok)), http.StatusBadRequest)
		}
	})
}

// unverified creates a user whose address is not confirmed, as /register
// leaves one.
func unverified(t *testing.T, e *webtest.Env, email string) storage.User {
	t.Helper()
	return e.CreateUser(t, email, pw, func(u *storage.User) { u.EmailVerified = false })
}

// resendToken returns the resend token of an unverified page.
func resendToken(t *testing.T, r *webtest.Response) url.Values {
	t.Helper()
	tok := webtest.Attr(r.Body, `name="token" value`)
	if len(tok) != 1 || !strings.Contains(r.Body, `action="/verify/resend"`) {
		t.Fatalf("no resend button on the page: %d %s", r.Status, r.Body)
	}
	return url.Values{"token": tok}
}

// verifyFromMail opens the last verification link mailed to to and
// confirms it; the browser is sent back to the sign-in page want.
func verifyFromMail(t *testing.T, e *webtest.Env, c *webtest.Client, to, want string) {
	t.Helper()
	page := c.Get(t, e.LastMail(t, to, "verify_email").Data["link"])
	webtest.MustStatus(t, page, http.StatusOK)
	webtest.MustRedirect(t, c.Submit(t, "/verify", url.Values{"token": webtest.Attr(page.Body, `name="token" value`)}), want)
}

// TestUnverifiedEmail pins that an unverified address gets no session:
// the right password gets the confirm page, a wrong one the uniform
// answer, and a reset confirms the address.
func TestUnverifiedEmail(t *testing.T) {
	t.Run("case=the right password of an unverified address gets the confirm page, no session and no flow advance", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := unverified(t, e, email)
		f := e.StartFlow(t, "first", []string{"openid"}, nil)
		c := e.NewClient()
		r := c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "flow": {f.ID}})
		webtest.MustStatus(t, r, http.StatusForbidden)
		if !strings.Contains(r.Body, "Confirm your email first") || !strings.Contains(r.Body, email) {
			t.Errorf("unverified page: %s", r.Body)
		}
		resendToken(t, r)
		if !strings.Contains(r.Body, `href="/login?flow=`+f.ID+`"`) {
			t.Error("the page does not lead back to the sign-in of the flow")
		}
		if c.Cookie(e.Sessions.CookieName()) != "" || c.Cookie("latch_login") != "" {
			t.Error("a session or pending sign-in cookie was set")
		}
		if sessions, _ := e.Sessions.List(t.Context(), u.ID); len(sessions) != 0 {
			t.Errorf("%d sessions for an unverified user", len(sessions))
		}
		if _, err := e.Flows.Get(t.Context(), f.ID, flow.StageLogin); err != nil {
			t.Errorf("the flow left the login stage: %v", err)
		}
		if got := e.User(t, u.ID); !got.LastLoginAt.IsZero() {
			t.Error("LastLoginAt was set")
		}
		events, _ := e.Store.ListAudit(t.Context(), u.ID, 10)
		if len(events) == 0 || events[0].Kind != "login_refused" || events[0].Detail["reason"] != "email_unverified" {
			t.Errorf("audit = %+v, want login_refused first", events)
		}
		webtest.MustRedirect(t, c.Get(t, "/account"), "/login?return_to=/account")
		if n := e.CountMail(email, "verify_email"); n != 0 {
			t.Errorf("signing in mailed %d links; only the button mails", n)
		}
	})

	t.Run("case=the second step is not reached before the address is confirmed", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := unverified(t, e, email)
		e.EnableTOTP(t, u.ID)
		c := e.NewClient()
		webtest.MustStatus(t, c.Login(t, email, pw), http.StatusForbidden)
		webtest.MustRedirect(t, c.Get(t, "/login/code"), "/login")
	})

	t.Run("case=a wrong password of an unverified address gets the uniform answer", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		unverified(t, e, email)
		c := e.NewClient()
		wrong := c.Login(t, email, "not the right password at all")
		unknown := c.Login(t, "nobody@example.com", "not the right password at all")
		webtest.MustStatus(t, wrong, http.StatusUnauthorized)
		if strings.ReplaceAll(wrong.Body, email, "X") != strings.ReplaceAll(unknown.Body, "nobody@example.com", "X") {
			t.Error("a wrong password tells an unverified account apart from an unknown email")
		}
		if strings.Contains(wrong.Body, "verify/resend") || strings.Contains(wrong.Body, "Confirm your email") {
			t.Error("the unverified page is shown without the password")
		}
	})

	t.Run("case=a reset confirms the address and signs in", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		unverified(t, e, email)
		c := e.NewClient()
		webtest.MustStatus(t, c.Submit(t, "/forgot", url.Values{"email": {email}}), http.StatusOK)
		page := c.Get(t, e.LastMail(t, email, "password_reset").Data["link"])
		token := webtest.Attr(page.Body, `name="token" value`)
		webtest.MustRedirect(t, c.Submit(t, "/reset", url.Values{"token": token, "new_password": {"my brand new passphrase"}}), "/login?done=reset")
		webtest.MustRedirect(t, c.Login(t, email, "my brand new passphrase"), "/account")
	})
}

// TestUnverifiedEmailResend pins the button of the unverified page: it
// mails a new link, under the per-account and per-address limits, and only
// for a token the right password earned.
func TestUnverifiedEmailResend(t *testing.T) {
	t.Run("case=the button mails a new link that verifies, and then sign-in completes the flow", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{Registration: true})
		c := e.NewClient()
		webtest.MustStatus(t, c.Submit(t, "/register", url.Values{"email": {email}, "password": {pw}}), http.StatusOK)
		first := e.LastMail(t, email, "verify_email")
		f := e.StartFlow(t, "first", []string{"openid"}, nil)
		r := c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "flow": {f.ID}})
		webtest.MustStatus(t, r, http.StatusForbidden)

		sent := c.Submit(t, "/verify/resend", resendToken(t, r))
		webtest.MustStatus(t, sent, http.StatusOK)
		if !strings.Contains(sent.Body, "We sent a new link to "+email) {
			t.Errorf("page after resending: %s", sent.Body)
		}
		if n := e.CountMail(email, "verify_email"); n != 2 {
			t.Fatalf("%d verification mails, want 2", n)
		}
		second := e.LastMail(t, email, "verify_email")
		if second.Data["link"] == "" || !strings.HasPrefix(second.Data["link"], e.URL+"/verify?token=") {
			t.Fatalf("resent mail %+v (first %+v)", second, first)
		}
		verifyFromMail(t, e, c, email, flowLogin(f.ID, "verified"))
		u, err := e.Store.GetUserByEmail(t.Context(), email)
		if err != nil || !u.EmailVerified {
			t.Fatalf("after the resent link: %+v, %v", u, err)
		}
		webtest.MustStatus(t, c.Get(t, first.Data["link"]), http.StatusBadRequest)

		r = c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "flow": {f.ID}})
		webtest.MustRedirect(t, r, e.Flows.URL(flow.StageResume, f.ID))
		if res := webtest.DecodeResult(t, c.Follow(t, r)); res.Flow.UserID != u.ID {
			t.Errorf("flow finished for %q, want %q", res.Flow.UserID, u.ID)
		}
		// A resend token outlives nothing: once verified, it only says so.
		done := c.Submit(t, "/verify/resend", resendToken(t, sent))
		webtest.MustStatus(t, done, http.StatusOK)
		if !strings.Contains(done.Body, "is confirmed") || e.CountMail(email, "verify_email") != 2 {
			t.Errorf("resend after verification: %s", done.Body)
		}
	})

	t.Run("case=resending is limited per account", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		unverified(t, e, email)
		c := e.NewClient()
		tok := resendToken(t, c.Login(t, email, pw))
		// webtest's account limit is 5 within the window: the 5th is refused.
		for range 4 {
			webtest.MustStatus(t, c.Submit(t, "/verify/resend", tok), http.StatusOK)
		}
		// Another browser does not get more.
		other := e.NewClient()
		r := other.Submit(t, "/verify/resend", resendToken(t, other.Login(t, email, pw)))
		webtest.MustStatus(t, r, http.StatusTooManyRequests)
		if r.Header.Get("Retry-After") == "" || !strings.Contains(r.Body, "try again") {
			t.Errorf("limited resend: %v %s", r.Header, r.Body)
		}
		if n := e.CountMail(email, "verify_email"); n != 4 {
			t.Errorf("%d mails, want 4", n)
		}
	})

	t.Run("case=resending is limited per client address", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c := e.NewClient()
		// webtest's IP limit is 20: four accounts of four resends and three
		// of a fifth, then the fifth account's fourth is refused.
		sent := 0
		for i := range 5 {
			addr := fmt.Sprintf("u%d@example.com", i)
			unverified(t, e, addr)
			tok := resendToken(t, c.Login(t, addr, pw))
			for j := range 4 {
				r := c.Submit(t, "/verify/resend", tok)
				if i == 4 && j == 3 {
					webtest.MustStatus(t, r, http.StatusTooManyRequests)
					continue
				}
				webtest.MustStatus(t, r, http.StatusOK)
				sent++
			}
		}
		if sent != 19 || e.CountMail("u4@example.com", "verify_email") != 3 {
			t.Errorf("sent %d, u4 got %d mails", sent, e.CountMail("u4@example.com", "verify_email"))
		}
	})

	t.Run("case=the button needs a token from the right password, for that password", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		u := unverified(t, e, email)
		c := e.NewClient()
		tok := resendToken(t, c.Login(t, email, pw))
		bad := tok.Get("token")
		for name, form := range map[string]url.Values{
			"no token":        {},
			"garbage":         {"token": {"x.y.z"}},
			"tampered mac":    {"token": {tamper(bad)}},
			"another subject": {"token": {strings.Replace(bad, bad[:4], "QUFB", 1)}},
		} {
			if r := c.Submit(t, "/verify/resend", form); r.Status != http.StatusBadRequest {
				t.Errorf("%s: %d", name, r.Status)
			}
		}
		// A new password (here: set by an administrator) ends the token.
		phc, err := e.Hasher.Hash(t.Context(), "a different long passphrase")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Store.UpdateUser(t.Context(), u.ID, storage.Effects{}, func(u *storage.User) error {
			u.PasswordHash = phc
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		webtest.MustStatus(t, c.Submit(t, "/verify/resend", tok), http.StatusBadRequest)
		if n := e.CountMail(email, "verify_email"); n != 0 {
			t.Errorf("%d mails from refused tokens", n)
		}
	})
}

// tamper changes one character inside a token's last part: not the last
// character, whose low bits base64 may ignore as padding.
func tamper(tok string) string {
	i := len(tok) - 5
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}
