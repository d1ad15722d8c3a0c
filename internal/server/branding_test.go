package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/latch-idp/latch/brand"
	"github.com/latch-idp/latch/login"
)

var acme = brand.Brand{
	Name:       "Acme ID",
	LogoURL:    "https://cdn.acme.example/logo.svg",
	Color:      "#7a1fa2",
	SupportURL: "mailto:help@acme.example",
}

func TestBrandIsOnEveryPage(t *testing.T) {
	s := startServer(t, func(c *Config) { c.Brand = acme })
	b := s.browser()
	for _, path := range []string{login.PathLogin, login.PathForgot, "/no-such-page"} {
		p := b.get(t, s.URL+path)
		for _, want := range []string{"<title>", "· Acme ID</title>", `<img class="logo" src="https://cdn.acme.example/logo.svg"`, `href="mailto:help@acme.example"`} {
			if !strings.Contains(p.Body, want) {
				t.Errorf("%s lacks %s", path, want)
			}
		}
		if csp := p.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' data: https://cdn.acme.example;") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q must allow the logo's origin and nothing inline", path, csp)
		}
	}
	css := webAttr(t, b.get(t, s.URL+login.PathLogin).Body, `<link rel="stylesheet" href="/static/brand-`)
	p := b.get(t, s.URL+"/static/brand-"+css)
	if p.Status != http.StatusOK || !strings.Contains(p.Body, "--accent: #7a1fa2") || !strings.Contains(p.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("brand stylesheet: %d %q %q", p.Status, p.Header.Get("Cache-Control"), p.Body)
	}
	if !strings.HasPrefix(p.Header.Get("Content-Type"), "text/css") {
		t.Errorf("brand stylesheet served as %q", p.Header.Get("Content-Type"))
	}
}

// webAttr is what follows prefix in body up to the next quote.
func webAttr(t testing.TB, body, prefix string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, prefix)
	if !ok {
		t.Fatalf("no %s in:\n%s", prefix, body)
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func TestBrandNamesTheAuthenticatorAppEntry(t *testing.T) {
	s := startServer(t, func(c *Config) { c.Brand = acme })
	u := s.user(t, "user")
	b := s.browser()
	b.submit(t, b.get(t, s.URL+login.PathLogin).formWith(t, "password"), map[string]string{"email": u.Email, "password": testPassword}, [2]string{})
	p := b.get(t, s.URL+"/account/totp")
	link, err := url.Parse("otpauth://" + strings.ReplaceAll(webAttr(t, p.Body, `<a href="otpauth://`), "&amp;", "&"))
	if err != nil {
		t.Fatal(err)
	}
	if got := link.Query().Get("issuer"); got != "Acme ID" {
		t.Errorf("otpauth issuer %q, want Acme ID", got)
	}
	if !strings.HasPrefix(link.Path, "/Acme ID:") {
		t.Errorf("otpauth label %q, want it to start with the brand", link.Path)
	}
}

func TestBrandIsInEmailSubjects(t *testing.T) {
	mb := startMailbox(t)
	s := startServer(t, func(c *Config) { c.Brand, c.SMTPURL = acme, mb.url })
	u := s.user(t, "user")
	requestReset(t, s, u.Email)
	m := mb.waitFor(t, u.Email)
	if m.Subject != "Reset your Acme ID password" {
		t.Errorf("subject %q", m.Subject)
	}
	if !strings.Contains(m.Text, "Help and support: mailto:help@acme.example") || !strings.Contains(m.HTML, `href="mailto:help@acme.example"`) {
		t.Errorf("the email lacks the support link:\n%s", m.Text)
	}
}

// templatesDir writes files (PACKAGE/FILE: content) into a new directory.
func templatesDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestTemplateOverridesReplacePagesAndEmails(t *testing.T) {
	mb := startMailbox(t)
	dir := templatesDir(t, map[string]string{
		"login/forgot.html":       `{{define "content"}}<h1>Lost your Acme password?</h1><form method="post" action="/forgot">{{template "csrf" .}}<input name="email"><button type="submit">Send</button></form>{{end}}`,
		"mail/password_reset.txt": `{{define "subject"}}Acme: new password{{end}}{{define "body"}}Open {{.Data.link}} within {{.Data.expires}}.{{end}}`,
	})
	s := startServer(t, func(c *Config) { c.TemplatesDir, c.SMTPURL = dir, mb.url })
	u := s.user(t, "user")
	if p := s.browser().get(t, s.URL+login.PathForgot); !strings.Contains(p.Body, "Lost your Acme password?") {
		t.Fatalf("the override does not replace the page:\n%s", p.Body)
	}
	requestReset(t, s, u.Email)
	if m := mb.waitFor(t, u.Email); m.Subject != "Acme: new password" || !strings.HasPrefix(m.Text, "Open http") {
		t.Errorf("the override does not replace the email: %q\n%s", m.Subject, m.Text)
	}
	if p := s.browser().get(t, s.URL+login.PathLogin); !strings.Contains(p.Body, `name="password"`) {
		t.Error("pages without an override changed")
	}
}

func TestBrokenOverrideRefusesToStartWithOneLine(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"page does not parse":   {"login/login.html": `{{define "content"}}{{if}}{{end}}`},
		"page does not escape":  {"consent/consent.html": `{{define "content"}}<a href="{{.CSRF}}>{{end}}`},
		"email does not parse":  {"mail/verify_email.txt": `{{define "subject"}}{{.Nope}{{end}}`},
		"email lacks data":      {"mail/verify_email.txt": `{{define "subject"}}x{{end}}{{define "body"}}{{.Data.nope}}{{end}}`},
		"file replaces nothing": {"login/logn.html": `{{define "content"}}{{end}}`},
	} {
		t.Run("case="+name, func(t *testing.T) {
			c := cheapConfig()
			c.Dev, c.Issuer, c.TemplatesDir = true, "http://127.0.0.1:1", templatesDir(t, files)
			_, err := New(t.Context(), *c, io.Discard, slog.New(slog.DiscardHandler))
			if err == nil {
				t.Fatal("latch started with a broken override")
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "LATCH_TEMPLATES_DIR: ") || strings.Contains(msg, "\n") {
				t.Errorf("want one line naming LATCH_TEMPLATES_DIR, got %q", msg)
			}
		})
	}
}

func TestBadBrandSettingsAreOneLineEach(t *testing.T) {
	c := cheapConfig()
	c.Dev, c.Issuer = true, "https://id.example.com"
	c.Brand = brand.Brand{Name: "a:b", LogoURL: "http://cdn.example.com/x.png", Color: "#ffdd00", SupportURL: "ftp://help"}
	c.TemplatesDir = filepath.Join(t.TempDir(), "missing")
	err := c.Validate()
	if err == nil {
		t.Fatal("bad brand settings accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	for i, env := range []string{"LATCH_BRAND_NAME", "LATCH_BRAND_LOGO_URL", "LATCH_BRAND_COLOR", "LATCH_BRAND_SUPPORT_URL", "LATCH_TEMPLATES_DIR"} {
		if i >= len(lines) || !strings.HasPrefix(lines[i], env+": ") {
			t.Errorf("line %d must name %s:\n%v", i+1, env, err)
		}
	}
	if len(lines) != 5 {
		t.Errorf("%d lines, want 5:\n%v", len(lines), err)
	}
}
