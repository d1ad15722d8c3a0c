package server

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/login"
	"github.com/latch-idp/latch/storage"
)

// mustSay fails unless every one of want is on p.
func mustSay(t testing.TB, what string, p *page, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(p.Body, w) {
			t.Errorf("%s lacks %q:\n%s", what, w, p.Body)
		}
	}
}

func TestAcceptLanguageChoosesThePagesLanguage(t *testing.T) {
	s := startServer(t, nil)
	u := s.user(t, storage.RoleUser)
	en := s.browser().get(t, s.URL+login.PathLogin)
	mustSay(t, "the page without Accept-Language", en, `<html lang="en">`, "<h1>Sign in</h1>", "Forgot your password?")

	b := s.browser()
	b.languages = "de-CH,de;q=0.9,en;q=0.5"
	de := b.get(t, s.URL+login.PathLogin)
	mustSay(t, "the German login page", de, `<html lang="de">`, "<h1>Anmelden</h1>", "Passwort vergessen?", `hreflang="en"`,
		// The hooks of the contract do not change with the language.
		`name="email" type="email" autocomplete="username"`, `name="password" type="password" autocomplete="current-password"`)
	wrong := b.submit(t, de.formWith(t, "password"), map[string]string{"email": u.Email, "password": "wrong"}, [2]string{})
	mustSay(t, "a failed German sign-in", wrong, "E-Mail-Adresse oder Passwort ist falsch.")
	mustSay(t, "the German error page", b.get(t, s.URL+"/no-such-page"), "<h1>Seite nicht gefunden</h1>", "Hier gibt es keine Seite.", "Fehler 404")
	mustSay(t, "a German problem page", b.get(t, s.URL+login.PathReset+"?token=bogus"), "<h1>Dieser Link ist abgelaufen</h1>", "Einen neuen Link anfordern")

	b.languages = "fr-FR,fr;q=0.9" // not shipped: English
	mustSay(t, "the French request", b.get(t, s.URL+login.PathLogin), `<html lang="en">`)
}

func TestUILocalesCarriesTheLanguageThroughTheFlow(t *testing.T) {
	f := startOIDC(t)
	s := f.s
	u := s.user(t, storage.RoleUser)
	b := s.browser()
	ar := f.public.authURL([]string{"openid", "email"}, map[string]string{"ui_locales": "fr-CA de"})
	res := b.authorize(t, ar.URL, flowSteps{})
	if !res.SawLogin {
		t.Fatalf("no login page: %d %s", res.Last.Status, res.Last.URL)
	}
	mustSay(t, "the login page", res.Last, `<html lang="de">`, "<h1>Anmelden</h1>", "um mit <strong>Public SPA</strong> fortzufahren")
	p := b.submit(t, res.Last.formWith(t, "password"), map[string]string{"email": u.Email, "password": testPassword}, [2]string{})
	for p.Location != nil && p.Location.Host == res.Last.URL.Host {
		p = b.get(t, p.Location.String())
	}
	mustSay(t, "the consent page", p, `<html lang="de">`, "möchte auf Ihr Konto zugreifen", "Ihre E-Mail-Adresse sehen",
		`<button type="submit" name="decision" value="allow">Erlauben</button>`)
	done := b.submit(t, p.formWith(t, "decision"), nil, [2]string{"decision", "allow"})
	for done.Location != nil && done.Location.Host == res.Last.URL.Host {
		done = b.get(t, done.Location.String())
	}
	if done.Location == nil || done.Location.Query().Get("code") == "" {
		t.Fatalf("the flow did not finish: %d %s", done.Status, done.Body)
	}
	// The language stays for the browser's later pages.
	mustSay(t, "the account page", b.get(t, s.URL+"/account"), "<h1>Ihr Konto</h1>")
}

func TestLanguageSwitcherRemembersTheChoice(t *testing.T) {
	s := startServer(t, nil)
	b := s.browser()
	p := b.get(t, s.URL+"/language?lang=de&return_to="+login.PathLogin+"%3Fdone%3Dsignout")
	if p.Status != http.StatusSeeOther || p.Location.Path != login.PathLogin {
		t.Fatalf("switcher: %d %v", p.Status, p.Location)
	}
	mustSay(t, "the page after switching", b.get(t, p.Location.String()), `<html lang="de">`, "Sie sind abgemeldet.")
	if p := b.get(t, s.URL+"/language?lang=de&return_to=//evil.example"); p.Location == nil || p.Location.Host != mustURL(t, s.URL).Host {
		t.Errorf("the switcher left the site: %v", p.Location)
	}
}

func TestDiscoveryListsTheShippedLanguages(t *testing.T) {
	s := startServer(t, nil)
	if got := toStrings(discovery(t, s)["ui_locales_supported"]); !slices.Equal(got, []string{"en", "de"}) {
		t.Errorf("ui_locales_supported = %v", got)
	}
}

func TestEmailsAreInTheLanguageOfTheirRequest(t *testing.T) {
	mb := startMailbox(t)
	s := startServer(t, func(c *Config) { c.SMTPURL = mb.url })
	u := s.user(t, storage.RoleUser)
	b := s.browser()
	b.languages = "de"
	p := b.get(t, s.URL+login.PathForgot)
	mustSay(t, "the German forgot page", b.submit(t, p.formWith(t, "email"), map[string]string{"email": u.Email}, [2]string{}), "Falls es ein Konto")
	m := mb.waitFor(t, u.Email)
	if m.Subject != "Setzen Sie Ihr latch-Passwort zurück" || m.Language != "de" || !strings.Contains(m.Text, "Guten Tag,") {
		t.Errorf("a German request's email: %q (%s)\n%s", m.Subject, m.Language, m.Text)
	}
}

// TestEmailsWithoutARequestAreInTheUsersLanguage pins the refresh-token
// reuse alert, which the token endpoint causes without a page: it is in
// the language of the user's last sign-in.
func TestEmailsWithoutARequestAreInTheUsersLanguage(t *testing.T) {
	mb := startMailbox(t)
	s := startServer(t, func(c *Config) { c.SMTPURL = mb.url })
	app := s.client(t, clients.Metadata{TokenEndpointAuthMethod: storage.AuthMethodNone, Scope: "openid offline_access"})
	u := s.user(t, storage.RoleUser)
	b := s.browser()
	b.languages = "de-AT"
	tok := app.login(t, b, u, []string{"openid", "offline_access"}, nil)
	if got, err := s.store.GetUser(t.Context(), u.ID); err != nil || got.Locale != "de" {
		t.Fatalf("the sign-in did not record German: %q %v", got.Locale, err)
	}
	if status, body := app.refresh(t, tok.RefreshToken); status != http.StatusOK {
		t.Fatalf("refresh: %s", describe(status, body))
	}
	app.refresh(t, tok.RefreshToken) // reuse
	if m := mb.waitFor(t, u.Email); !strings.HasPrefix(m.Subject, "Sicherheitshinweis") || m.Language != "de" {
		t.Errorf("the reuse alert: %q (%s)", m.Subject, m.Language)
	}
}
