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
// (checkPage).
func TestBrowser(t *testing.T) {
	e := webtest.New(t, webtest.Options{Registration: true})
	u := e.CreateUser(t, email, pw, nil)
	ctx := webtest.Browser(t)
	const wait = 30 * time.Second

	// load runs steps that load a page, checks that page, and returns its
	// response.
	checked := map[string]bool{}
	load := func(t *testing.T, tab context.Context, s ...steps) *network.Response {
		t.Helper()
		resp := webtest.Load(tab, t, wait, s...)
		checkPage(t, tab, resp)
		if p, err := url.Parse(resp.URL); err == nil {
			checked[p.Path] = true
		}
		return resp
	}
	// signIn fills the sign-in form the tab is on and submits it. Cases
	// set field values rather than type them, which costs a round trip to
	// the browser per key; typing is the keyboard case's business.
	signIn := func(t *testing.T, tab context.Context, email, pw string) *network.Response {
		t.Helper()
		webtest.Do(tab, t, wait,
			chromedp.SetValue(css(`input[name=email][autocomplete=username]`), email),
			chromedp.SetValue(css(`input[name=password][autocomplete=current-password]`), pw),
		)
		return load(t, tab, chromedp.Click(css(`button[type=submit]`)))
	}
	signOut := func(t *testing.T, tab context.Context) {
		t.Helper()
		load(t, tab, chromedp.Navigate(e.URL+"/account"))
		load(t, tab, chromedp.Click(css(`form[action="/account/signout"] button`)))
		wantPage(t, tab, "/login", "Sign in")
	}

	t.Run("case=password sign-in and consent allow resume the flow", func(t *testing.T) {
		f := e.StartFlow(t, webtest.ThirdParty+"printer", []string{"openid", "email"}, func(f *flow.Flow) {
			f.ClientName = "Photo Printer"
			f.LoginHint = email
		})
		load(t, ctx, chromedp.Navigate(e.URL+"/login?flow="+f.ID))
		// The stylesheet loads under the page's CSP (no inline styles).
		if r := webtest.Get(ctx, t, wait, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("main")).borderTopLeftRadius`)); r != "12px" {
			t.Errorf("stylesheet not applied: main border radius %q", r)
		}
		signIn(t, ctx, email, pw)
		webtest.Do(ctx, t, wait, chromedp.WaitVisible(css(`button[name=decision][value=allow]`)))
		consentText := webtest.Get(ctx, t, wait, chromedp.Text(css("main")))
		if !strings.Contains(consentText, "Photo Printer") || !strings.Contains(consentText, "Your email address") {
			t.Errorf("consent page text: %s", consentText)
		}
		res := result(t, ctx, chromedp.Click(css(`button[name=decision][value=allow]`)))
		if res.Flow.UserID != u.ID || !res.Flow.Consented || res.Error != "" || strings.Join(res.Flow.GrantedScopes, " ") != "openid email" {
			t.Errorf("result = %+v", res)
		}
		if _, err := e.Store.GetConsent(t.Context(), u.ID, f.ClientID); err != nil {
			t.Errorf("consent not saved: %v", err)
		}
	})

	var secret string
	var backupCodes []string
	t.Run("case=TOTP enrollment from the account page", func(t *testing.T) {
		load(t, ctx, chromedp.Navigate(e.URL+"/account"))
		load(t, ctx, chromedp.Click(css(`a[href="/account/totp"]`)))
		webtest.Do(ctx, t, wait,
			chromedp.WaitVisible(css(`[data-totp-secret]`)),
			chromedp.WaitVisible(css(`img.qr`)),
		)
		secret = webtest.Get(ctx, t, wait, chromedp.AttributeValue(css(`[data-totp-secret]`), "data-totp-secret")).Value
		if secret == "" {
			t.Fatal("no secret")
		}
		// The inline QR code loads under the page's CSP.
		if w := webtest.Get(ctx, t, wait, chromedp.Evaluate[int](`document.querySelector("img.qr").naturalWidth`)); w == 0 {
			t.Error("the QR code did not load")
		}
		webtest.Do(ctx, t, wait, chromedp.SetValue(css(`input[name=code]`), webtest.Code(t, secret, 0)))
		load(t, ctx, chromedp.Click(css(`form[action="/account/totp"] button[type=submit]`)))
		webtest.Do(ctx, t, wait, chromedp.WaitVisible(css(`[data-backup-code]`)))
		backupCodes = webtest.Get(ctx, t, wait, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("[data-backup-code]")).map(e => e.getAttribute("data-backup-code"))`))
		if len(backupCodes) != 10 {
			t.Errorf("%d backup codes shown", len(backupCodes))
		}
		if !e.User(t, u.ID).TOTPEnabled() {
			t.Error("TOTP not enabled")
		}
	})

	t.Run("case=sign out, then sign in with password and TOTP", func(t *testing.T) {
		if secret == "" {
			t.Fatal("enrollment failed")
		}
		signOut(t, ctx)
		signIn(t, ctx, email, pw)
		wantPage(t, ctx, "/login/code", "Enter your code")
		// The enrollment used this step's code: the next one is due.
		webtest.Do(ctx, t, wait, chromedp.SetValue(css(`input[name=code][autocomplete=one-time-code]`), webtest.Code(t, secret, 30*time.Second)))
		load(t, ctx, chromedp.Click(css(`button[type=submit]`)))
		wantPage(t, ctx, "/account", "Your account")
		sessions, _ := e.Sessions.List(t.Context(), u.ID)
		if len(sessions) != 1 || strings.Join(sessions[0].AMR, " ") != "pwd otp" {
			t.Errorf("sessions = %+v", sessions)
		}
	})

	t.Run("case=a backup code is accepted once at the second step", func(t *testing.T) {
		if len(backupCodes) == 0 {
			t.Fatal("enrollment showed no backup codes")
		}
		code := backupCodes[3]
		enterCode := func(t *testing.T) *network.Response {
			t.Helper()
			signOut(t, ctx)
			signIn(t, ctx, email, pw)
			wantPage(t, ctx, "/login/code", "Enter your code")
			webtest.Do(ctx, t, wait, chromedp.SetValue(css(`input[name=code]`), code))
			return load(t, ctx, chromedp.Click(css(`button[type=submit]`)))
		}
		enterCode(t)
		wantPage(t, ctx, "/account", "Your account")

		if r := enterCode(t); r.Status != http.StatusUnauthorized {
			t.Errorf("status of a used backup code = %d", r.Status)
		}
		wantPage(t, ctx, "/login/code", "Enter your code")
		if f := field(t, ctx, `input[name=code]`); !f.Invalid || len(f.Errors) != 1 || !strings.Contains(f.Errors[0], "not valid") {
			t.Errorf("code field after a used backup code: %+v", f)
		}
	})

	const (
		regEmail = "ada@example.com"
		regPw    = "analytical engine notes 1843"
	)
	t.Run("case=register, sign-in refused until verified, verify from a re-sent mail, then sign in", func(t *testing.T) {
		tab := webtest.Tab(ctx, t)
		load(t, tab, chromedp.Navigate(e.URL+"/login"))
		load(t, tab, chromedp.Click(css(`a[href="/register"]`)))
		webtest.Do(tab, t, wait,
			chromedp.SetValue(css(`input[name=name][autocomplete=name]`), "Ada Lovelace"),
			chromedp.SetValue(css(`input[name=email][autocomplete=username]`), regEmail),
			chromedp.SetValue(css(`input[name=password][autocomplete=new-password]`), regPw),
		)
		load(t, tab, chromedp.Click(css(`button[type=submit]`)))
		wantPage(t, tab, "/register", "Check your email")
		if text := webtest.Get(tab, t, wait, chromedp.Text(css("main"))); !strings.Contains(text, "before you sign in") {
			t.Errorf("registration page does not ask to confirm first: %s", text)
		}

		// Before the address is confirmed, the right password gets the
		// confirm page and its button, not a session.
		load(t, tab, chromedp.Click(css(`a[href="/login"]`)))
		if r := signIn(t, tab, regEmail, regPw); r.Status != http.StatusForbidden {
			t.Errorf("unverified sign-in answers %d, want 403", r.Status)
		}
		wantPage(t, tab, "/login", "Confirm your email first")
		load(t, tab, chromedp.Click(css(`form[action="/verify/resend"] button`)))
		wantPage(t, tab, "/verify/resend", "Confirm your email first")
		if n := webtest.Get(tab, t, wait, chromedp.Text(css(`[role=status]`))); !strings.Contains(n, "new link") {
			t.Errorf("notice after resending: %q", n)
		}
		if n := e.CountMail(regEmail, "verify_email"); n != 2 {
			t.Errorf("%d verification mails, want 2", n)
		}
		load(t, tab, chromedp.Navigate(e.URL+"/account"))
		wantPage(t, tab, "/login", "Sign in")

		link := e.LastMail(t, regEmail, "verify_email").Data["link"]
		load(t, tab, chromedp.Navigate(link))
		wantPage(t, tab, "/verify", "Confirm your email")
		if text := webtest.Get(tab, t, wait, chromedp.Text(css("main"))); !strings.Contains(text, regEmail) {
			t.Errorf("verification page does not name the address: %s", text)
		}
		load(t, tab, chromedp.Click(css(`button[type=submit]`)))
		wantPage(t, tab, "/login", "Sign in")
		if n := webtest.Get(tab, t, wait, chromedp.Text(css(`[role=status]`))); !strings.Contains(n, "confirmed") {
			t.Errorf("notice after verification: %q", n)
		}
		ru, err := e.Store.GetUserByEmail(t.Context(), regEmail)
		if err != nil || !ru.EmailVerified || ru.Name != "Ada Lovelace" {
			t.Errorf("user after verification = %+v, %v", ru, err)
		}

		signIn(t, tab, regEmail, regPw)
		wantPage(t, tab, "/account", "Your account")

		if r := load(t, tab, chromedp.Navigate(link)); r.Status != http.StatusBadRequest {
			t.Errorf("a used verification link answers %d", r.Status)
		}
	})

	t.Run("case=a breached password is refused on the registration page, next to its field", func(t *testing.T) {
		const breached = "purple monkey dishwasher 7"
		e.Breach(breached)
		tab := webtest.Tab(ctx, t)
		load(t, tab, chromedp.Navigate(e.URL+"/register"))
		webtest.Do(tab, t, wait,
			chromedp.SetValue(css(`input[name=email]`), "linus@example.com"),
			chromedp.SetValue(css(`input[name=password]`), breached),
		)
		if r := load(t, tab, chromedp.Click(css(`button[type=submit]`))); r.Status != http.StatusBadRequest {
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
		if _, err := e.Store.GetUserByEmail(t.Context(), "linus@example.com"); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("a user was created: %v", err)
		}
		if n := e.CountMail("linus@example.com", "verify_email"); n != 0 {
			t.Errorf("%d verification mails sent", n)
		}
	})

	t.Run("case=password reset from the mailed link; the old password and the link stop working", func(t *testing.T) {
		const (
			resetEmail = "grace@example.com"
			oldPw      = "cobol compiler a-0 1952"
			newPw      = "a nanosecond is 30 cm of wire"
			breached   = "letmein letmein letmein"
		)
		ru := e.CreateUser(t, resetEmail, oldPw, nil)
		tab := webtest.Tab(ctx, t)
		load(t, tab, chromedp.Navigate(e.URL+"/login"))
		load(t, tab, chromedp.Click(css(`a[href="/forgot"]`)))
		webtest.Do(tab, t, wait, chromedp.SetValue(css(`input[name=email][autocomplete=username]`), resetEmail))
		load(t, tab, chromedp.Click(css(`button[type=submit]`)))
		wantPage(t, tab, "/forgot", "Check your email")

		link := e.LastMail(t, resetEmail, "password_reset").Data["link"]
		load(t, tab, chromedp.Navigate(link))
		wantPage(t, tab, "/reset", "Choose a new password")
		if v := webtest.Get(tab, t, wait, chromedp.Value(css(`input[autocomplete=username]`))); v != resetEmail {
			t.Errorf("the reset page names %q", v)
		}

		// A breached password is refused first, next to its field.
		e.Breach(breached)
		webtest.Do(tab, t, wait, chromedp.SetValue(css(`input[name=new_password][autocomplete=new-password]`), breached))
		if r := load(t, tab, chromedp.Click(css(`button[type=submit]`))); r.Status != http.StatusBadRequest {
			t.Errorf("status of a breached new password = %d", r.Status)
		}
		wantPage(t, tab, "/reset", "Choose a new password")
		if f := field(t, tab, `input[name=new_password]`); !f.Invalid || !slices.Equal(f.Errors, []string{password.BreachedMessage}) || !f.Focused {
			t.Errorf("new password field: %+v", f)
		}

		webtest.Do(tab, t, wait, chromedp.SetValue(css(`input[name=new_password]`), newPw))
		load(t, tab, chromedp.Click(css(`button[type=submit]`)))
		wantPage(t, tab, "/login", "Sign in")
		if n := webtest.Get(tab, t, wait, chromedp.Text(css(`[role=status]`))); !strings.Contains(n, "password was changed") {
			t.Errorf("notice after reset: %q", n)
		}
		signIn(t, tab, resetEmail, newPw)
		wantPage(t, tab, "/account", "Your account")

		signOut(t, tab)
		if r := signIn(t, tab, resetEmail, oldPw); r.Status != http.StatusUnauthorized {
			t.Errorf("status of the old password = %d", r.Status)
		}
		wantPage(t, tab, "/login", "Sign in")
		if f := field(t, tab, `input[name=password]`); !f.Invalid || len(f.Errors) != 1 {
			t.Errorf("password field after the old password: %+v", f)
		}
		if sessions, _ := e.Sessions.List(t.Context(), ru.ID); len(sessions) != 0 {
			t.Errorf("the old password signed in: %+v", sessions)
		}

		if r := load(t, tab, chromedp.Navigate(link)); r.Status != http.StatusBadRequest {
			t.Errorf("a used reset link answers %d", r.Status)
		}
		if text := webtest.Get(tab, t, wait, chromedp.Text(css("main"))); !strings.Contains(text, "invalid") || strings.Contains(text, "New password") {
			t.Errorf("a used reset link shows: %s", text)
		}
	})

	t.Run("case=consent deny ends the flow with access_denied", func(t *testing.T) {
		const denyEmail = "katherine@example.com"
		du := e.CreateUser(t, denyEmail, pw, nil)
		f := e.StartFlow(t, webtest.ThirdParty+"tracker", []string{"openid", "profile"}, func(f *flow.Flow) {
			f.ClientName = "Pushy Tracker"
		})
		tab := webtest.Tab(ctx, t)
		load(t, tab, chromedp.Navigate(e.URL+"/login?flow="+f.ID))
		signIn(t, tab, denyEmail, pw)
		wantPage(t, tab, "/consent", "Pushy Tracker wants to access your account")
		res := result(t, tab, chromedp.Click(css(`button[name=decision][value=deny]`)))
		if res.Error != "access_denied" || !res.Flow.Denied || res.Flow.Consented || len(res.Flow.GrantedScopes) != 0 || res.Flow.UserID != du.ID {
			t.Errorf("result = %+v", res)
		}
		if _, err := e.Store.GetConsent(t.Context(), du.ID, f.ClientID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("consent after deny: %v", err)
		}
	})

	t.Run("case=sign in with the keyboard only", func(t *testing.T) {
		const kbEmail = "dorothy@example.com"
		ku := e.CreateUser(t, kbEmail, pw, nil)
		tab := webtest.Tab(ctx, t)
		load(t, tab, chromedp.Navigate(e.URL+"/login"))
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
		load(t, tab, chromedp.KeyEvent(kb.Enter))
		wantPage(t, tab, "/account", "Your account")
		if sessions, _ := e.Sessions.List(t.Context(), ku.ID); len(sessions) != 1 {
			t.Errorf("sessions = %+v", sessions)
		}
	})

	t.Run("case=every page sends the security headers and holds no script", func(t *testing.T) {
		// load checked each page as the cases above opened it; this case
		// fails when a page drops out of the cases, so none goes unchecked.
		for _, p := range pagePaths {
			if !checked[p] {
				t.Errorf("%s was not loaded and checked in the browser", p)
			}
		}
	})
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
