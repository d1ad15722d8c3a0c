package account_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web/webtest"
)

func TestChangeName(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	c, u := signedIn(t, e)
	webtest.MustRedirect(t, c.Submit(t, "/account/name", url.Values{"name": {"  Alan Turing "}}), "/account?done=name")
	if got := e.User(t, u.ID).Name; got != "Alan Turing" {
		t.Fatalf("name = %q", got)
	}
	webtest.MustStatus(t, c.Submit(t, "/account/name", url.Values{"name": {"bell\a"}}), http.StatusBadRequest)
}

// changeLink asks for an address change on c and returns the link mailed
// to the new address.
func changeLink(t *testing.T, e *webtest.Env, c *webtest.Client, to string) string {
	t.Helper()
	r := c.Submit(t, "/account/email", url.Values{"new_email": {to}, "current_password": {pw}})
	webtest.MustStatus(t, r, http.StatusOK)
	if !strings.Contains(r.Body, "We sent a link to "+to) {
		t.Fatalf("no word of the link sent:\n%s", r.Body)
	}
	link, err := url.Parse(e.LastMail(t, to, "email_change").Data["link"])
	if err != nil {
		t.Fatal(err)
	}
	return link.RequestURI()
}

func TestChangeEmailIsConfirmedFromTheNewMailbox(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	c, u := signedIn(t, e)
	link := changeLink(t, e, c, "alan@new.example")
	if e.User(t, u.ID).Email != email {
		t.Fatal("the address changed before the link was opened")
	}
	page := e.NewClient().Get(t, link) // opened in the mail app's browser
	webtest.MustStatus(t, page, http.StatusOK)
	token := webtest.Attr(page.Body, `name="token" value`)
	if len(token) != 1 || e.User(t, u.ID).Email != email {
		t.Fatal("the confirmation page changed the address by itself, or has no form")
	}
	other := e.NewClient()
	r := other.Submit(t, "/account/email/confirm", url.Values{"token": token})
	webtest.MustStatus(t, r, http.StatusOK)
	if got := e.User(t, u.ID); got.Email != "alan@new.example" || !got.EmailVerified {
		t.Fatalf("after confirming: %+v", got)
	}
	if m := e.LastMail(t, email, "email_changed"); m.Data["email"] != "alan@new.example" {
		t.Errorf("the old address's notice = %+v", m)
	}
	// The link is spent, and the new address signs in.
	webtest.MustStatus(t, other.Submit(t, "/account/email/confirm", url.Values{"token": token}), http.StatusBadRequest)
	webtest.MustRedirect(t, e.NewClient().Login(t, "alan@new.example", pw), "/account")
}

func TestChangeEmailRefusals(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	c, u := signedIn(t, e)
	wrong := c.Submit(t, "/account/email", url.Values{"new_email": {"alan@new.example"}, "current_password": {"not it"}})
	webtest.MustStatus(t, wrong, http.StatusBadRequest)
	if e.CountMail("alan@new.example", "email_change") != 0 {
		t.Fatal("a wrong password still sent the link")
	}
	webtest.MustStatus(t, c.Submit(t, "/account/email", url.Values{"new_email": {"not an address"}, "current_password": {pw}}), http.StatusBadRequest)
	// An address taken by the time of confirming is refused, and nothing changes.
	link := changeLink(t, e, c, "taken@example.com")
	e.CreateUser(t, "taken@example.com", pw, nil)
	token := webtest.Attr(e.NewClient().Get(t, link).Body, `name="token" value`)
	webtest.MustStatus(t, c.Submit(t, "/account/email/confirm", url.Values{"token": token}), http.StatusConflict)
	if e.User(t, u.ID).Email != email {
		t.Fatal("the address changed to a taken one")
	}
	webtest.MustStatus(t, c.Get(t, "/account/email/confirm?token=forged.1.AAAA"), http.StatusBadRequest)
}

func TestDeleteAccount(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	c, u := signedIn(t, e)
	webtest.MustStatus(t, c.Submit(t, "/account/delete", url.Values{"current_password": {"not it"}}), http.StatusBadRequest)
	if _, err := e.Store.GetUser(t.Context(), u.ID); err != nil {
		t.Fatal("a wrong password deleted the account")
	}
	webtest.MustRedirect(t, c.Submit(t, "/account/delete", url.Values{"current_password": {pw}}), "/login?done=deleted")
	if _, err := e.Store.GetUser(t.Context(), u.ID); err == nil {
		t.Fatal("the account is still there")
	}
	webtest.MustRedirect(t, c.Get(t, "/account"), "/login?return_to=/account")
	if e.CountMail(email, "account_deleted") != 1 {
		t.Error("no notice of the deletion")
	}
	webtest.MustStatus(t, e.NewClient().Login(t, email, pw), http.StatusUnauthorized)
}

func TestTheOnlyAdministratorCannotDeleteTheAccount(t *testing.T) {
	e := webtest.New(t, webtest.Options{})
	u := e.CreateUser(t, email, pw, func(u *storage.User) { u.Role = storage.RoleAdmin })
	c := e.NewClient()
	webtest.MustRedirect(t, c.Login(t, email, pw), "/account")
	r := c.Submit(t, "/account/delete", url.Values{"current_password": {pw}})
	webtest.MustStatus(t, r, http.StatusConflict)
	if !strings.Contains(r.Body, "only administrator") {
		t.Errorf("refusal does not say why:\n%s", r.Body)
	}
	if _, err := e.Store.GetUser(t.Context(), u.ID); err != nil {
		t.Fatal("the only administrator was deleted")
	}
}
