package login_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/latch-idp/latch/web/webtest"
)

// answerWhileHeld posts form to path while every mail write is held, and
// fails t unless the page answers 200 before the mail goes: the work that
// differs between a known and an unknown address comes after the answer.
func answerWhileHeld(t *testing.T, path string, form url.Values, setup func(*webtest.Env)) (*webtest.Env, chan struct{}) {
	t.Helper()
	hold := make(chan struct{})
	e := webtest.New(t, webtest.Options{Registration: true, HoldMail: hold})
	if setup != nil {
		setup(e)
	}
	c := e.NewClient()
	form.Set("csrf_token", c.CSRF(t))
	c.NoSettle = true
	// A guard against a hang, not a timing: a page that wrote its mail
	// before answering would wait here until the hold ends.
	c.HTTP.Timeout = 20 * time.Second
	r := c.Post(t, path, form)
	webtest.MustStatus(t, r, http.StatusOK)
	if n := len(e.MailsHeld()); n != 0 {
		t.Fatalf("%d mails out before the hold ended", n)
	}
	return e, hold
}

func TestForgotAnswersBeforeLookingUpTheAddress(t *testing.T) {
	e, hold := answerWhileHeld(t, "/forgot", url.Values{"email": {email}}, func(e *webtest.Env) { e.CreateUser(t, email, pw, nil) })
	close(hold)
	e.LastMail(t, email, "password_reset")
}

func TestRegisterAnswersBeforeWritingTheAccount(t *testing.T) {
	e, hold := answerWhileHeld(t, "/register", url.Values{"email": {"new@example.com"}, "password": {pw}}, nil)
	close(hold)
	e.LastMail(t, "new@example.com", "verify_email")
}
