package webtest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web/webtest"
)

const (
	email = "margaret@example.com"
	pw    = "hamilton apollo guidance 1969"
)

type (
	css   = chromedp.CSS
	steps = chromedp.Action[chromedp.Void]
)

// pagePaths are the pages the browser test must have loaded, and checked
// with checkPage, by its end.
var pagePaths = []string{
	"/login", "/login/code", "/register", "/verify", "/verify/resend", "/forgot", "/reset",
	"/consent", "/account", "/account/totp",
}

// TestBrowser drives the real pages in headless Chromium, one browser for
// all cases (a case that needs a user of its own opens a tab with its own
// cookies): sign-in with consent allowed and denied, TOTP enrollment, TOTP
// and backup-code sign-in, registration with email verification (sign-in
// refused until then, a new link from the button), password reset, a
// breached password refused, and a keyboard-only sign-in. Every page loaded
// on the way is checked for its security headers and for script
// (checkPage). The cases run in order: the TOTP ones build on each other.
func TestBrowser(t *testing.T) {
	e := webtest.New(t, webtest.Options{Registration: true})
	s := &browserSuite{e: e, u: e.CreateUser(t, email, pw, nil), ctx: webtest.Browser(t), checked: map[string]bool{}}
	t.Run("case=password sign-in and consent allow resume the flow", s.passwordSignInAndConsent)
	t.Run("case=TOTP enrollment from the account page", s.totpEnrollment)
	t.Run("case=sign out, then sign in with password and TOTP", s.totpSignIn)
	t.Run("case=a backup code is accepted once at the second step", s.backupCodeOnce)
	t.Run("case=register, sign-in refused until verified, verify from a re-sent mail, then sign in", s.registerAndVerify)
	t.Run("case=a breached password is refused on the registration page, next to its field", s.breachedPasswordRefused)
	t.Run("case=password reset from the mailed link; the old password and the link stop working", s.passwordReset)
	t.Run("case=consent deny ends the flow with access_denied", s.consentDeny)
	t.Run("case=sign in with the keyboard only", s.keyboardOnly)
	t.Run("case=every page sends the security headers and holds no script", s.everyPageChecked)
}

// wait bounds every browser step.
const wait = 30 * time.Second

// browserSuite is the one browser of TestBrowser and what its cases share.
type browserSuite struct {
	e   *webtest.Env
	u   storage.User
	ctx context.Context
	// checked holds the paths of the pages loaded and checked so far.
	checked map[string]bool
	// secret and backupCodes come from the TOTP enrollment case.
	secret      string
	backupCodes []string
}

// load runs steps that load a page, checks that page, and returns its
// response.
func (s *browserSuite) load(t *testing.T, tab context.Context, steps ...steps) *network.Response {
	t.Helper()
	resp := webtest.Load(tab, t, wait, steps...)
	checkPage(t, tab, resp)
	if p, err := url.Parse(resp.URL); err == nil {
		s.checked[p.Path] = true
	}
	return resp
}

// signIn fills the sign-in form the tab is on and submits it. Cases set
// field values rather than type them, which costs a round trip to the
// browser per key; typing is the keyboard case's business.
func (s *browserSuite) signIn(t *testing.T, tab context.Context, email, pw string) *network.Response {
	t.Helper()
	webtest.Do(tab, t, wait,
		chromedp.SetValue(css(`input[name=email][autocomplete=username]`), email),
		chromedp.SetValue(css(`input[name=password][autocomplete=current-password]`), pw),
	)
	return s.load(t, tab, chromedp.Click(css(`button[type=submit]`)))
}

func (s *browserSuite) signOut(t *testing.T, tab context.Context) {
	t.Helper()
	s.load(t, tab, chromedp.Navigate(s.e.URL+"/account"))
	s.load(t, tab, chromedp.Click(css(`form[action="/account/signout"] button`)))
	wantPage(t, tab, "/login", "Sign in")
}

// passwordSignInAndConsent: password sign-in and consent allow resume the flow.
func (s *browserSuite) passwordSignInAndConsent(t *testing.T) {
	f := s.e.StartFlow(t, webtest.ThirdParty+"printer", []string{"openid", "email"}, func(f *flow.Flow) {
		f.ClientName = "Photo Printer"
		f.LoginHint = email
	})
	s.load(t, s.ctx, chromedp.Navigate(s.e.URL+s.e.Flows.URL(flow.StageLogin, f.ID)))
	// The stylesheet loads under the page's CSP (no inline styles).
	if r := webtest.Get(s.ctx, t, wait, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("main")).borderTopLeftRadius`)); r != "12px" {
		t.Errorf("stylesheet not applied: main border radius %q", r)
	}
	s.signIn(t, s.ctx, email, pw)
	webtest.Do(s.ctx, t, wait, chromedp.WaitVisible(css(`button[name=decision][value=allow]`)))
	consentText := webtest.Get(s.ctx, t, wait, chromedp.Text(css("main")))
	if !strings.Contains(consentText, "Photo Printer") || !strings.Contains(consentText, "Your email address") {
		t.Errorf("consent page text: %s", consentText)
	}
	res := result(t, s.ctx, chromedp.Click(css(`button[name=decision][value=allow]`)))
	if res.Flow.UserID != s.u.ID || !res.Flow.Consented || res.Error != "" || strings.Join(res.Flow.GrantedScopes, " ") != "openid email" {
		t.Errorf("result = %+v", res)
	}
	if _, err := s.e.Store.GetConsent(t.Context(), s.u.ID, f.ClientID); err != nil {
		t.Errorf("consent not saved: %v", err)
	}
}

// totpEnrollment: TOTP enrollment from the account page.
func (s *browserSuite) totpEnrollment(t *testing.T) {
	s.load(t, s.ctx, chromedp.Navigate(s.e.URL+"/account"))
	s.load(t, s.ctx, chromedp.Click(css(`a[href="/account/totp"]`)))
	webtest.Do(s.ctx, t, wait,
		chromedp.WaitVisible(css(`[data-totp-secret]`)),
		chromedp.WaitVisible(css(`img.qr`)),
	)
	s.secret = webtest.Get(s.ctx, t, wait, chromedp.AttributeValue(css(`[data-totp-secret]`), "data-totp-secret")).Value
	if s.secret == "" {
		t.Fatal("no secret")
	}
	// The inline QR code loads under the page's CSP.
	if w := webtest.Get(s.ctx, t, wait, chromedp.Evaluate[int](`document.querySelector("img.qr").naturalWidth`)); w == 0 {
		t.Error("the QR code did not load")
	}
	webtest.Do(s.ctx, t, wait, chromedp.SetValue(css(`input[name=code]`), webtest.Code(t, s.secret, 0)))
	s.load(t, s.ctx, chromedp.Click(css(`form[action="/account/totp"] button[type=submit]`)))
	webtest.Do(s.ctx, t, wait, chromedp.WaitVisible(css(`[data-backup-code]`)))
	s.backupCodes = webtest.Get(s.ctx, t, wait, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("[data-backup-code]")).map(e => e.getAttribute("data-backup-code"))`))
	if len(s.backupCodes) != 10 {
		t.Errorf("%d backup codes shown", len(s.backupCodes))
	}
	if !s.e.User(t, s.u.ID).TOTPEnabled() {
		t.Error("TOTP not enabled")
	}
}

// totpSignIn: sign out, then sign in with password and TOTP.
func (s *browserSuite) totpSignIn(t *testing.T) {
	if s.secret == "" {
		t.Fatal("enrollment failed")
	}
	s.signOut(t, s.ctx)
	s.signIn(t, s.ctx, email, pw)
	wantPage(t, s.ctx, "/login/code", "Enter your code")
	// The enrollment used this step's code: the next one is due.
	webtest.Do(s.ctx, t, wait, chromedp.SetValue(css(`input[name=code][autocomplete=one-time-code]`), webtest.Code(t, s.secret, 30*time.Second)))
	s.load(t, s.ctx, chromedp.Click(css(`button[type=submit]`)))
	wantPage(t, s.ctx, "/account", "Your account")
	sessions, _ := s.e.Sessions.List(t.Context(), s.u.ID)
	if len(sessions) != 1 || strings.Join(sessions[0].AMR, " ") != "pwd otp" {
		t.Errorf("sessions = %+v", sessions)
	}
}

// backupCodeOnce: a backup code is accepted once at the second step.
func (s *browserSuite) backupCodeOnce(t *testing.T) {
	if len(s.backupCodes) == 0 {
		t.Fatal("enrollment showed no backup codes")
	}
	code := s.backupCodes[3]
	enterCode := func(t *testing.T) *network.Response {
		t.Helper()
		s.signOut(t, s.ctx)
		s.signIn(t, s.ctx, email, pw)
		wantPage(t, s.ctx, "/login/code", "Enter your code")
		webtest.Do(s.ctx, t, wait, chromedp.SetValue(css(`input[name=code]`), code))
		return s.load(t, s.ctx, chromedp.Click(css(`button[type=submit]`)))
	}
	enterCode(t)
	wantPage(t, s.ctx, "/account", "Your account")

	if r := enterCode(t); r.Status != http.StatusUnauthorized {
		t.Errorf("status of a used backup code = %d", r.Status)
	}
	wantPage(t, s.ctx, "/login/code", "Enter your code")
	if f := field(t, s.ctx, `input[name=code]`); !f.Invalid || len(f.Errors) != 1 || !strings.Contains(f.Errors[0], "not valid") {
		t.Errorf("code field after a used backup code: %+v", f)
	}
}

// registerAndVerify: register, sign-in refused until verified, verify from a re-sent mail, then sign in.
func (s *browserSuite) registerAndVerify(t *testing.T) {
	const (
		regEmail = "ada@example.com"
		regPw    = "analytical engine notes 1843"
	)
	tab := webtest.Tab(s.ctx, t)
	s.load(t, tab, chromedp.Navigate(s.e.URL+"/login"))
	s.load(t, tab, chromedp.Click(css(`a[href="/register"]`)))
	webtest.Do(tab, t, wait,
		chromedp.SetValue(css(`input[name=name][autocomplete=name]`), "Ada Lovelace"),
		chromedp.SetValue(css(`input[name=email][autocomplete=username]`), regEmail),
		chromedp.SetValue(css(`input[name=password][autocomplete=new-password]`), regPw),
	)
	s.load(t, tab, chromedp.Click(css(`button[type=submit]`)))
	wantPage(t, tab, "/register", "Check your email")
	if text := webtest.Get(tab, t, wait, chromedp.Text(css("main"))); !strings.Contains(text, "before you sign in") {
		t.Errorf("registration page does not ask to confirm first: %s", text)
	}

	// Before the address is confirmed, the right password gets the
	// confirm page and its button, not a session.
	s.load(t, tab, chromedp.Click(css(`a[href="/login"]`)))
	if r := s.signIn(t, tab, regEmail, regPw); r.Status != http.StatusForbidden {
		t.Errorf("unverified sign-in answers %d, want 403", r.Status)
	}
	wantPage(t, tab, "/login", "Confirm your email first")
	s.load(t, tab, chromedp.Click(css(`form[action="/verify/resend"] button`)))
	wantPage(t, tab, "/verify/resend", "Confirm your email first")
	if n := webtest.Get(tab, t, wait, chromedp.Text(css(`[role=status]`))); !strings.Contains(n, "new link") {
		t.Errorf("notice after resending: %q", n)
	}
	if n := s.e.CountMail(regEmail, "verify_email"); n != 2 {
		t.Errorf("%d verification mails, want 2", n)
	}
	s.load(t, tab, chromedp.Navigate(s.e.URL+"/account"))
	wantPage(t, tab, "/login", "Sign in")

	link := s.e.LastMail(t, regEmail, "verify_email").Data["link"]
	s.load(t, tab, chromedp.Navigate(link))
	wantPage(t, tab, "/verify", "Confirm your email")
	if text := webtest.Get(tab, t, wait, chromedp.Text(css("main"))); !strings.Contains(text, regEmail) {
		t.Errorf("verification page does not name the address: %s", text)
	}
	s.load(t, tab, chromedp.Click(css(`button[type=submit]`)))
	wantPage(t, tab, "/login", "Sign in")
	if n := webtest.Get(tab, t, wait, chromedp.Text(css(`[role=status]`))); !strings.Contains(n, "confirmed") {
		t.Errorf("notice after verification: %q", n)
	}
	ru, err := s.e.Store.GetUserByEmail(t.Context(), regEmail)
	if err != nil || !ru.EmailVerified || ru.Name != "Ada Lovelace" {
		t.Errorf("user after verification = %+v, %v", ru, err)
	}

	s.signIn(t, tab, regEmail, regPw)
	wantPage(t, tab, "/account", "Your account")

	if r := s.load(t, tab, chromedp.Navigate(link)); r.Status != http.StatusBadRequest {
		t.Errorf("a used verification link answers %d", r.Status)
	}
}

// breachedPasswordRefused: a breached password is refused on the registration page, next to its field.
func (s *browserSuite) breachedPasswordRefused(t *testing.T) {
	const breached = "purple monkey dishwasher 7"
	s.e.Breach(breached)
	tab := webtest.Tab(s.ctx, t)
	s.load(t, tab, chromedp.Navigate(s.e.URL+"/register"))
	webtest.Do(tab, t, wait,
		chromedp.SetValue(css(`input[name=email]`), "linus@example.com"),
		chromedp.SetValue(css(`input[name=password]`), breached),
	)
	if r := s.load(t, tab, chromedp.Click(css(`button[type=submit]`))); r.Status != http.StatusBadRequest {
		t.Errorf("status = %d", r.Status)
	}
	wantPage(t, tab, "/register", "Create an account")
	f := field(t, tab, `form[action="/register"] input[name=password]`)
	if !f.Invalid || !slices.Equal(f.Errors, []string{password.BreachedMessage}) || !f.Focused {
		t.Errorf("password field: %+v", f)
	}
	if v := webtest.Get(tab, t, wait, chromedp.Value(css(`input[name=email]`))); v != "linus@example.com" {
		t.Errorf("the email was not kept: %q", v)
	}
	if _, err := s.e.Store.GetUserByEmail(t.Context(), "linus@example.com"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a user was created: %v", err)
	}
	if n := s.e.CountMail("linus@example.com", "verify_email"); n != 0 {
		t.Errorf("%d verification mails sent", n)
	}
}

// passwordReset: password reset from the mailed link; the old password and the link stop working.
func (s *browserSuite) passwordReset(t *testing.T) {
	const (
		resetEmail = "grace@example.com"
		oldPw      = "cobol compiler a-0 1952"
		newPw      = "a nanosecond is 30 cm of wire"
		breached   = "letmein letmein letmein"
	)
	ru := s.e.CreateUser(t, resetEmail, oldPw, nil)
	tab := webtest.Tab(s.ctx, t)
	s.load(t, tab, chromedp.Navigate(s.e.URL+"/login"))
	s.load(t, tab, chromedp.Click(css(`a[href="/forgot"]`)))
	webtest.Do(tab, t, wait, chromedp.SetValue(css(`input[name=email][autocomplete=username]`), resetEmail))
	s.load(t, tab, chromedp.Click(css(`button[type=submit]`)))
	wantPage(t, tab, "/forgot", "Check your email")

	link := s.e.LastMail(t, resetEmail, "password_reset").Data["link"]
	s.load(t, tab, chromedp.Navigate(link))
	wantPage(t, tab, "/reset", "Choose a new password")
	if v := webtest.Get(tab, t, wait, chromedp.Value(css(`input[autocomplete=username]`))); v != resetEmail {
		t.Errorf("the reset page names %q", v)
	}

	// A breached password is refused first, next to its field.
	s.e.Breach(breached)
	webtest.Do(tab, t, wait, chromedp.SetValue(css(`input[name=new_password][autocomplete=new-password]`), breached))
	if r := s.load(t, tab, chromedp.Click(css(`button[type=submit]`))); r.Status != http.StatusBadRequest {
		t.Errorf("status of a breached new password = %d", r.Status)
	}
	wantPage(t, tab, "/reset", "Choose a new password")
	if f := field(t, tab, `input[name=new_password]`); !f.Invalid || !slices.Equal(f.Errors, []string{password.BreachedMessage}) || !f.Focused {
		t.Errorf("new password field: %+v", f)
	}

	webtest.Do(tab, t, wait, chromedp.SetValue(css(`input[name=new_password]`), newPw))
	s.load(t, tab, chromedp.Click(css(`button[type=submit]`)))
	wantPage(t, tab, "/login", "Sign in")
	if n := webtest.Get(tab, t, wait, chromedp.Text(css(`[role=status]`))); !strings.Contains(n, "password was changed") {
		t.Errorf("notice after reset: %q", n)
	}
	s.signIn(t, tab, resetEmail, newPw)
	wantPage(t, tab, "/account", "Your account")

	s.signOut(t, tab)
	if r := s.signIn(t, tab, resetEmail, oldPw); r.Status != http.StatusUnauthorized {
		t.Errorf("status of the old password = %d", r.Status)
	}
	wantPage(t, tab, "/login", "Sign in")
	if f := field(t, tab, `input[name=password]`); !f.Invalid || len(f.Errors) != 1 {
		t.Errorf("password field after the old password: %+v", f)
	}
	if sessions, _ := s.e.Sessions.List(t.Context(), ru.ID); len(sessions) != 0 {
		t.Errorf("the old password signed in: %+v", sessions)
	}

	if r := s.load(t, tab, chromedp.Navigate(link)); r.Status != http.StatusBadRequest {
		t.Errorf("a used reset link answers %d", r.Status)
	}
	if text := webtest.Get(tab, t, wait, chromedp.Text(css("main"))); !strings.Contains(text, "This link has expired") || strings.Contains(text, "New password") {
		t.Errorf("a used reset link shows: %s", text)
	}
}

// consentDeny: consent deny ends the flow with access_denied.
func (s *browserSuite) consentDeny(t *testing.T) {
	const denyEmail = "katherine@example.com"
	du := s.e.CreateUser(t, denyEmail, pw, nil)
	f := s.e.StartFlow(t, webtest.ThirdParty+"tracker", []string{"openid", "profile"}, func(f *flow.Flow) {
		f.ClientName = "Pushy Tracker"
	})
	tab := webtest.Tab(s.ctx, t)
	s.load(t, tab, chromedp.Navigate(s.e.URL+s.e.Flows.URL(flow.StageLogin, f.ID)))
	s.signIn(t, tab, denyEmail, pw)
	wantPage(t, tab, "/consent", "Pushy Tracker wants to access your account")
	res := result(t, tab, chromedp.Click(css(`button[name=decision][value=deny]`)))
	if res.Error != "access_denied" || !res.Flow.Denied || res.Flow.Consented || len(res.Flow.GrantedScopes) != 0 || res.Flow.UserID != du.ID {
		t.Errorf("result = %+v", res)
	}
	if _, err := s.e.Store.GetConsent(t.Context(), du.ID, f.ClientID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("consent after deny: %v", err)
	}
}

// keyboardOnly: sign in with the keyboard only.
func (s *browserSuite) keyboardOnly(t *testing.T) {
	const kbEmail = "dorothy@example.com"
	ku := s.e.CreateUser(t, kbEmail, pw, nil)
	tab := webtest.Tab(s.ctx, t)
	s.load(t, tab, chromedp.Navigate(s.e.URL+"/login"))
	focused := func() string {
		return webtest.Get(tab, t, wait, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.name || "" : ""`))
	}
	// The email field has the focus when the page opens (autofocus
	// applies just after load, so wait for it).
	deadline := time.Now().Add(wait)
	for f := focused(); f != "email"; f = focused() {
		if time.Now().After(deadline) {
			t.Fatalf("focus on load: %q", f)
		}
		time.Sleep(20 * time.Millisecond)
	}
	webtest.Do(tab, t, wait, chromedp.KeyEvent(kbEmail), chromedp.KeyEvent(kb.Tab))
	if f := focused(); f != "password" {
		t.Fatalf("Tab from the email field moved to %q", f)
	}
	webtest.Do(tab, t, wait, chromedp.KeyEvent(pw))
	s.load(t, tab, chromedp.KeyEvent(kb.Enter))
	wantPage(t, tab, "/account", "Your account")
	if sessions, _ := s.e.Sessions.List(t.Context(), ku.ID); len(sessions) != 1 {
		t.Errorf("sessions = %+v", sessions)
	}
}

// everyPageChecked: every page sends the security headers and holds no script.
func (s *browserSuite) everyPageChecked(t *testing.T) {
	// load checked each page as the cases above opened it; this case
	// fails when a page drops out of the cases, so none goes unchecked.
	for _, p := range pagePaths {
		if !s.checked[p] {
			t.Errorf("%s was not loaded and checked in the browser", p)
		}
	}
}

// checkPage fails t unless the document of resp, which the browser of tab
// shows, came with the security headers every page sends and holds no
// script at all (the pages work without JavaScript, and the CSP would
// block it anyway), and unless each form field has a label and its
// aria-describedby names elements that exist.
func checkPage(t *testing.T, tab context.Context, resp *network.Response) {
	t.Helper()
	header := func(name string) string {
		for k, v := range resp.Headers {
			if strings.EqualFold(k, name) {
				return fmt.Sprint(v)
			}
		}
		return ""
	}
	csp := header("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: Content-Security-Policy %q lacks %s", resp.URL, csp, want)
		}
	}
	// Without script-src, scripts fall back to default-src 'none'.
	if strings.Contains(csp, "script-src") || strings.Contains(csp, "'unsafe-") {
		t.Errorf("%s: Content-Security-Policy %q allows script", resp.URL, csp)
	}
	for name, want := range map[string]string{
		"X-Frame-Options":           "DENY",
		"Referrer-Policy":           "no-referrer",
		"X-Content-Type-Options":    "nosniff",
		"Strict-Transport-Security": "", // not over plain http
	} {
		if got := header(name); got != want {
			t.Errorf("%s: %s = %q, want %q", resp.URL, name, got, want)
		}
	}
	problems := webtest.Get(tab, t, 10*time.Second, chromedp.Evaluate[[]string](`(() => {
	const problems = [];
	if (document.scripts.length) problems.push(document.scripts.length + " script element(s)");
	for (const el of document.querySelectorAll("*")) {
		for (const a of el.attributes) {
			if (a.name.startsWith("on")) problems.push("inline handler " + a.name + " on <" + el.localName + ">");
			if (/^\s*javascript:/i.test(a.value)) problems.push("javascript: URL in " + a.name + " of <" + el.localName + ">");
		}
	}
	for (const f of document.querySelectorAll("input, select, textarea")) {
		if (f.type === "hidden" || f.hidden) continue;
		if (!f.labels.length) problems.push("no label for field " + (f.name || f.id));
		for (const id of (f.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean)) {
			if (!document.getElementById(id)) problems.push("aria-describedby of field " + (f.name || f.id) + " names missing #" + id);
		}
	}
	return problems;
})()`))
	for _, p := range problems {
		t.Errorf("%s: %s", resp.URL, p)
	}
}

// wantPage fails t unless the browser of tab shows path with heading h1.
func wantPage(t *testing.T, tab context.Context, path, h1 string) {
	t.Helper()
	loc := webtest.Get(tab, t, 10*time.Second, chromedp.Location())
	got := webtest.Get(tab, t, 10*time.Second, chromedp.Text(css("h1")))
	if u, err := url.Parse(loc); err != nil || u.Path != path || got != h1 {
		t.Fatalf("on %s %q, want %s %q", loc, got, path, h1)
	}
}

// fieldState is what a user of assistive technology learns about a field.
type fieldState struct {
	Invalid bool     `json:"invalid"` // aria-invalid="true"
	Errors  []string `json:"errors"`  // the text of the alerts its aria-describedby names
	Focused bool     `json:"focused"`
}

// field reads the state of the form field sel on the page of tab.
func field(t *testing.T, tab context.Context, sel string) fieldState {
	t.Helper()
	q, _ := json.Marshal(sel)
	return webtest.Get(tab, t, 10*time.Second, chromedp.Evaluate[fieldState](`(sel => {
	const f = document.querySelector(sel);
	if (!f) return {invalid: false, errors: ["no field " + sel], focused: false};
	const described = (f.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean).map(id => document.getElementById(id));
	return {
		invalid: f.getAttribute("aria-invalid") === "true",
		errors: described.filter(el => el && el.getAttribute("role") === "alert").map(el => el.textContent.trim()),
		focused: document.activeElement === f,
	};
})(`+string(q)+`)`))
}

// result runs steps that end a flow at the fake provider's resume endpoint
// and decodes its answer, which Chromium shows in a <pre>.
func result(t *testing.T, tab context.Context, s ...steps) webtest.Result {
	t.Helper()
	webtest.Load(tab, t, 10*time.Second, s...)
	webtest.Do(tab, t, 10*time.Second, chromedp.WaitReady(css(`body > pre`)))
	text := webtest.Get(tab, t, 10*time.Second, chromedp.Text(css(`body > pre`)))
	var res webtest.Result
	if err := json.Unmarshal([]byte(text), &res); err != nil {
		t.Fatalf("result %q: %v", text, err)
	}
	return res
}
