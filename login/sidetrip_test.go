package login_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/latch-idp/latch/web/webtest"
)

// flowLogin is the sign-in page of flow id telling it done.
func flowLogin(id, done string) string {
	return "/login?" + url.Values{"done": {done}, "flow": {id}}.Encode()
}

// resetFromMail opens the last reset link mailed to to in c and sets a
// new password; it returns where the browser is sent.
func resetFromMail(t *testing.T, e *webtest.Env, c *webtest.Client, to string) *webtest.Response {
	t.Helper()
	page := c.Get(t, e.LastMail(t, to, "password_reset").Data["link"])
	webtest.MustStatus(t, page, http.StatusOK)
	return c.Submit(t, "/reset", url.Values{"token": webtest.Attr(page.Body, `name="token" value`), "new_password": {"my brand new passphrase"}})
}

func TestForgotPasswordKeepsTheSignIn(t *testing.T) {
	t.Run("case=the reset link ends on the sign-in page of the flow, in the browser that left it", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		f := e.StartFlow(t, "first", []string{"openid"}, nil)
		c := e.NewClient()
		login := c.Get(t, "/login?flow="+f.ID)
		if !strings.Contains(login.Body, `href="/forgot?flow=`+f.ID+`"`) {
			t.Fatalf("the sign-in page's forgotten-password link drops the flow:\n%s", login.Body)
		}
		forgot := c.Get(t, "/forgot?flow="+f.ID)
		if got := webtest.Attr(forgot.Body, `name="flow" value`); len(got) != 1 || got[0] != f.ID {
			t.Fatalf("the forgotten-password form carries flow %q", got)
		}
		sent := c.Submit(t, "/forgot", url.Values{"email": {email}, "flow": {f.ID}})
		webtest.MustStatus(t, sent, http.StatusOK)
		if !strings.Contains(sent.Body, `href="/login?flow=`+f.ID+`"`) {
			t.Errorf("the check-your-email page has no way back to the sign-in:\n%s", sent.Body)
		}
		webtest.MustRedirect(t, resetFromMail(t, e, c, email), flowLogin(f.ID, "reset"))
		if strings.Contains(e.LastMail(t, email, "password_reset").Data["link"], f.ID) {
			t.Error("the reset mail carries the flow")
		}
		page := c.Get(t, flowLogin(f.ID, "reset"))
		if !strings.Contains(page.Body, "App first") || !strings.Contains(page.Body, "new password") {
			t.Errorf("the sign-in page after the reset lost the app or the notice:\n%s", page.Body)
		}
	})
	t.Run("case=opened in another browser, the link ends on a plain sign-in page", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		f := e.StartFlow(t, "first", []string{"openid"}, nil)
		webtest.MustStatus(t, e.NewClient().Submit(t, "/forgot", url.Values{"email": {email}, "flow": {f.ID}}), http.StatusOK)
		webtest.MustRedirect(t, resetFromMail(t, e, e.NewClient(), email), "/login?done=reset")
	})
	t.Run("case=a flow that expired meanwhile is dropped", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		f := e.StartFlow(t, "first", []string{"openid"}, nil)
		c := e.NewClient()
		webtest.MustStatus(t, c.Submit(t, "/forgot", url.Values{"email": {email}, "flow": {f.ID}}), http.StatusOK)
		e.Redis.Del(t.Context(), "latch:flow:"+f.ID)
		webtest.MustRedirect(t, resetFromMail(t, e, c, email), "/login?done=reset")
	})
	t.Run("case=send again mails another link with the same answer", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		sent := c.Submit(t, "/forgot", url.Values{"email": {email}, "return_to": {"/account/passkeys"}})
		again := formFields(t, sent, "/forgot")
		if again.Get("email") != email || again.Get("return_to") != "/account/passkeys" {
			t.Fatalf("send again posts %v", again)
		}
		again.Set("again", "1")
		webtest.MustStatus(t, c.Submit(t, "/forgot", again), http.StatusOK)
		if n := e.CountMail(email, "password_reset"); n != 2 {
			t.Fatalf("%d reset mails after sending again, want 2", n)
		}
		webtest.MustRedirect(t, resetFromMail(t, e, c, email), "/login?"+url.Values{"done": {"reset"}, "return_to": {"/account/passkeys"}}.Encode())
	})
}

func TestRegistrationKeepsTheSignIn(t *testing.T) {
	t.Run("case=the confirmation link ends on the sign-in page of the flow", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{Registration: true})
		f := e.StartFlow(t, "first", []string{"openid"}, nil)
		c := e.NewClient()
		if !strings.Contains(c.Get(t, "/login?flow="+f.ID).Body, `href="/register?flow=`+f.ID+`"`) {
			t.Fatal("the sign-in page's registration link drops the flow")
		}
		sent := c.Submit(t, "/register", url.Values{"email": {"new@example.com"}, "password": {pw}, "flow": {f.ID}})
		webtest.MustStatus(t, sent, http.StatusOK)
		page := c.Get(t, e.LastMail(t, "new@example.com", "verify_email").Data["link"])
		webtest.MustRedirect(t, c.Submit(t, "/verify", url.Values{"token": webtest.Attr(page.Body, `name="token" value`)}), flowLogin(f.ID, "verified"))
	})
	t.Run("case=send again mails an unconfirmed address again", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{Registration: true})
		c := e.NewClient()
		sent := c.Submit(t, "/register", url.Values{"email": {"new@example.com"}, "password": {pw}})
		webtest.MustStatus(t, c.Submit(t, "/register/resend", formFields(t, sent, "/register/resend")), http.StatusOK)
		if n := e.CountMail("new@example.com", "verify_email"); n != 2 {
			t.Fatalf("%d confirmation mails after sending again, want 2", n)
		}
	})
	t.Run("case=send again for a taken address answers the same and mails nobody", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{Registration: true})
		e.CreateUser(t, email, pw, nil)
		c := e.NewClient()
		taken := c.Submit(t, "/register/resend", formFields(t, c.Submit(t, "/register", url.Values{"email": {email}, "password": {pw}}), "/register/resend"))
		fresh := c.Submit(t, "/register/resend", formFields(t, c.Submit(t, "/register", url.Values{"email": {"zed@example.com"}, "password": {pw}}), "/register/resend"))
		webtest.MustStatus(t, taken, http.StatusOK)
		if masked(taken.Body, email) != masked(fresh.Body, "zed@example.com") {
			t.Error("sending again tells taken addresses apart")
		}
		if n := e.CountMail(email, "verify_email"); n != 0 {
			t.Errorf("%d confirmation mails to a confirmed account", n)
		}
	})
	t.Run("case=a forged or tampered send-again token gets a page, not a mail", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{Registration: true})
		c := e.NewClient()
		for _, tok := range []string{"", "x", strings.Repeat("A", 4000)} {
			webtest.MustStatus(t, c.Submit(t, "/register/resend", url.Values{"token": {tok}}), http.StatusBadRequest)
		}
	})
}

// formFields returns the hidden fields of r's form posting to action.
func formFields(t *testing.T, r *webtest.Response, action string) url.Values {
	t.Helper()
	form := regexp.MustCompile(`(?s)<form method="post" action="` + regexp.QuoteMeta(action) + `">(.*?)</form>`).FindStringSubmatch(r.Body)
	if form == nil {
		t.Fatalf("no form posting to %s: %d\n%s", action, r.Status, r.Body)
	}
	v := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(form[1], -1) {
		if m[1] != "csrf_token" {
			v.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	return v
}

// masked is a page with the address and the sealed values that vary from
// one answer to the next taken out, for comparing two answers.
func masked(body, address string) string {
	body = strings.ReplaceAll(body, address, "X")
	return regexp.MustCompile(`value="[^"]{40,}"`).ReplaceAllString(body, `value=""`)
}
