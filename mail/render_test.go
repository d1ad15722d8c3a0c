package mail

import (
	"bytes"
	"errors"
	"html"
	"strings"
	"testing"

	"github.com/latch-idp/latch/brand"
	"github.com/latch-idp/latch/storage"
)

const testIssuer = "https://id.example.com"

func newTestRenderer(t *testing.T) *Renderer {
	t.Helper()
	r, err := NewRenderer(testIssuer, "latch <noreply@example.com>", testPages, brand.Look{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// templateCase is one template with the data a caller gives it and what the
// email must then say.
type templateCase struct {
	job     storage.MailJob
	subject string   // a part of the subject
	link    string   // must appear in both parts ("" for none)
	says    []string // must appear in the text part
}

func templateCases() []templateCase {
	at := map[string]string{"at": "2025-03-04T05:06:07Z", "ip": "203.0.113.7"}
	return []templateCase{
		{
			job:     storage.MailJob{To: "ann@example.com", Template: TemplateVerify, Data: map[string]string{"link": "https://id.example.com/verify?token=v3r1fy&x=1"}},
			subject: "Confirm your email address",
			link:    "https://id.example.com/verify?token=v3r1fy&x=1",
			says:    []string{"ann@example.com"},
		},
		{
			job:     storage.MailJob{To: "bob@example.org", Template: TemplatePasswordReset, Data: map[string]string{"link": "https://id.example.com/reset?token=r3s3t", "expires": "30 minutes"}},
			subject: "Reset your latch password",
			link:    "https://id.example.com/reset?token=r3s3t",
			says:    []string{"expires in 30 minutes"},
		},
		{
			job: storage.MailJob{To: "cy@example.net", Template: TemplateRefreshReuse, Data: map[string]string{
				"client_name": "Photo <App>", "client_id": "photos", "at": "2025-03-04T05:06:07Z", "ip": "198.51.100.9", "user_agent": "curl/8.0",
			}},
			subject: "Security alert",
			link:    "https://id.example.com/account",
			says: []string{"Photo <App>", "photos", "signed you out of every session", "Tuesday 4 March 2025, 05:06 UTC",
				"198.51.100.9", "curl/8.0", "Change your password", "revoke"},
		},
		{
			job:     storage.MailJob{To: "dee@example.com", Template: TemplatePasswordChanged, Data: at},
			subject: "password was changed",
			link:    "https://id.example.com/forgot",
			says:    []string{"203.0.113.7", "Tuesday 4 March 2025, 05:06 UTC"},
		},
		{
			job:     storage.MailJob{To: "eve@example.com", Template: TemplateTOTPEnabled, Data: at},
			subject: "turned on",
			link:    "https://id.example.com/account",
			says:    []string{"203.0.113.7"},
		},
		{
			job:     storage.MailJob{To: "fay@example.com", Template: TemplateTOTPDisabled, Data: at},
			subject: "turned off",
			link:    "https://id.example.com/account",
			says:    []string{"203.0.113.7"},
		},
		{
			job:     storage.MailJob{To: "gus@example.com", Template: TemplateBackupCodesRegenerated, Data: at},
			subject: "New backup codes",
			link:    "https://id.example.com/account",
			says:    []string{"no longer work"},
		},
		{
			job:     storage.MailJob{To: "hal@example.com", Template: TemplatePasskeyAdded, Data: with(at, "name", "Work laptop")},
			subject: "passkey was added",
			link:    "https://id.example.com/account",
			says:    []string{"Work laptop", "203.0.113.7"},
		},
		{
			job:     storage.MailJob{To: "ida@example.com", Template: TemplatePasskeyRemoved, Data: with(at, "name", "Old phone")},
			subject: "passkey was removed",
			link:    "https://id.example.com/forgot",
			says:    []string{"Old phone", "no longer sign in"},
		},
		{
			job:     storage.MailJob{To: "jo@example.org", Template: TemplateEmailChange, Data: map[string]string{"link": "https://id.example.com/account/email/confirm?token=t", "expires": "24 hours"}},
			subject: "Confirm your new",
			link:    "https://id.example.com/account/email/confirm?token=t",
			says:    []string{"jo@example.org", "24 hours"},
		},
		{
			job:     storage.MailJob{To: "kim@example.com", Template: TemplateEmailChanged, Data: with(at, "email", "kim@new.example")},
			subject: "moved to another address",
			link:    "https://id.example.com/forgot",
			says:    []string{"kim@new.example", "203.0.113.7"},
		},
		{
			job:     storage.MailJob{To: "lee@example.com", Template: TemplateAccountDeleted, Data: at},
			subject: "was deleted",
			says:    []string{"lee@example.com", "203.0.113.7"},
		},
	}
}

func with(data map[string]string, key, value string) map[string]string {
	out := map[string]string{key: value}
	for k, v := range data {
		out[k] = v
	}
	return out
}

// checkDelivered pins what every email must carry.
func checkDelivered(t *testing.T, c templateCase, got parsedMail) {
	t.Helper()
	if got.to != c.job.To {
		t.Errorf("To = %q, want %q", got.to, c.job.To)
	}
	if !strings.Contains(got.subject, c.subject) {
		t.Errorf("subject %q does not contain %q", got.subject, c.subject)
	}
	if !strings.Contains(got.text, testIssuer) || !strings.Contains(got.html, testIssuer) {
		t.Errorf("issuer missing from a part")
	}
	if c.link != "" {
		if !strings.Contains(got.text, c.link) {
			t.Errorf("text part lacks link %q:\n%s", c.link, got.text)
		}
		if !strings.Contains(got.html, `href="`+html.EscapeString(c.link)+`"`) {
			t.Errorf("HTML part lacks link %q:\n%s", c.link, got.html)
		}
	}
	for _, s := range c.says {
		if !strings.Contains(got.text, s) {
			t.Errorf("text part lacks %q:\n%s", s, got.text)
		}
		if !strings.Contains(got.html, html.EscapeString(s)) {
			t.Errorf("HTML part lacks %q", s)
		}
	}
}

func TestRenderEveryTemplateIsACompleteMIMEMessage(t *testing.T) {
	r := newTestRenderer(t)
	cases := templateCases()
	if len(cases) != len(Templates()) {
		t.Fatalf("%d cases for %d templates", len(cases), len(Templates()))
	}
	for _, c := range cases {
		t.Run("case="+c.job.Template, func(t *testing.T) {
			msg, err := r.Render(c.job)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(bytes.ReplaceAll(msg.Raw, []byte("\r\n"), nil), []byte("\n")) {
				t.Error("a bare LF in the message: every line must end in CRLF")
			}
			got := parseMail(t, msg.Raw)
			checkDelivered(t, c, got)
			if got.header.Get("From") != `"latch" <noreply@example.com>` {
				t.Errorf("From = %q", got.header.Get("From"))
			}
			if !strings.HasSuffix(got.header.Get("Message-Id"), "@id.example.com>") {
				t.Errorf("Message-ID = %q", got.header.Get("Message-Id"))
			}
		})
	}
}

func TestRenderHTMLEscapesData(t *testing.T) {
	r := newTestRenderer(t)
	msg, err := r.Render(storage.MailJob{To: "a@example.com", Template: TemplateRefreshReuse, Data: map[string]string{
		"client_id": "x", "at": "now", "client_name": `<script>alert(1)</script>`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(msg.HTML, "<script>") {
		t.Error("client_name reached the HTML part unescaped")
	}
	if !strings.Contains(msg.Text, "Device:  unknown") {
		t.Errorf("absent user_agent should read unknown:\n%s", msg.Text)
	}
}

func TestRenderRefusesBadJobsClearly(t *testing.T) {
	r := newTestRenderer(t)
	cases := []struct {
		name string
		job  storage.MailJob
		want string
	}{
		{"unknown template", storage.MailJob{To: "a@example.com", Template: "welcome"}, `unknown template "welcome"`},
		{"missing link", storage.MailJob{To: "a@example.com", Template: TemplateVerify, Data: map[string]string{}}, "missing data link"},
		{"missing two", storage.MailJob{To: "a@example.com", Template: TemplatePasswordReset}, "missing data link, expires"},
		{"missing at", storage.MailJob{To: "a@example.com", Template: TemplateRefreshReuse, Data: map[string]string{"client_id": "c"}}, "missing data at"},
		{"javascript link", storage.MailJob{To: "a@example.com", Template: TemplateVerify, Data: map[string]string{"link": "javascript:alert('s3cret')"}}, "not an absolute http(s) URL"},
		{"bad recipient", storage.MailJob{To: "not an address", Template: TemplateVerify, Data: map[string]string{"link": "https://x.example/"}}, "recipient is not a valid email address"},
	}
	for _, c := range cases {
		t.Run("case="+c.name, func(t *testing.T) {
			_, err := r.Render(c.job)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to say %q", err, c.want)
			}
			if Validate(c.job) == nil {
				t.Error("Validate accepted the job")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Error("the error echoes the link")
			}
		})
	}
}

func TestRenderRefusesHeaderInjection(t *testing.T) {
	r := newTestRenderer(t)
	link := map[string]string{"link": "https://id.example.com/verify?token=t"}
	for _, to := range []string{
		"victim@example.com\r\nBcc: attacker@evil.example",
		"victim@example.com\nBcc: attacker@evil.example",
		"victim@example.com\rBcc: attacker@evil.example",
		"Victim\r\n <victim@example.com>",
	} {
		_, err := r.Render(storage.MailJob{To: to, Template: TemplateVerify, Data: link})
		if !errors.Is(err, ErrHeaderInjection) {
			t.Errorf("To %q: err = %v, want ErrHeaderInjection", to, err)
		}
	}
	for _, from := range []string{"latch <a@example.com>\r\nBcc: x@evil.example", "a@example.com\n"} {
		if _, err := NewRenderer(testIssuer, from, testPages, brand.Look{}); !errors.Is(err, ErrHeaderInjection) {
			t.Errorf("From %q: err = %v, want ErrHeaderInjection", from, err)
		}
	}
	// A display name with non-ASCII text is encoded, not refused.
	msg, err := r.Render(storage.MailJob{To: "Zoë Müller <zoe@example.com>", Template: TemplateVerify, Data: link})
	if err != nil {
		t.Fatal(err)
	}
	if got := parseMail(t, msg.Raw); got.to != "zoe@example.com" {
		t.Errorf("To = %q", got.to)
	}
}

// testPages are the paths latch serves these pages at.
var testPages = Pages{Account: "/account", Forgot: "/forgot"}

func TestNewRendererChecksConfiguration(t *testing.T) {
	if _, err := NewRenderer("id.example.com", "", testPages, brand.Look{}); err == nil {
		t.Error("an issuer without scheme was accepted")
	}
	if _, err := NewRenderer(testIssuer, "not an address", testPages, brand.Look{}); err == nil {
		t.Error("a bad From was accepted")
	}
	r, err := NewRenderer("http://localhost:8080/", "", testPages, brand.Look{})
	if err != nil {
		t.Fatal(err)
	}
	if from := r.From(); from.String() != `"latch" <noreply@localhost>` {
		t.Errorf("default From = %s", from.String())
	}
}

// TestRenderInTheJobsLanguage pins that a job's Locale picks the language
// of the whole email, its dates and durations too, and says it in
// Content-Language; a locale latch does not ship gives English.
func TestRenderInTheJobsLanguage(t *testing.T) {
	r := newTestRenderer(t)
	for _, tc := range []struct {
		locale, subject, lang string
		says                  []string
	}{
		{"de", "Setzen Sie Ihr latch-Passwort zurück", "de", []string{"Guten Tag,", "läuft in 30 Minuten ab", "Antworten werden nicht gelesen"}},
		{"", "Reset your latch password", "en", []string{"Hello,", "expires in 30 minutes"}},
		{"fr", "Reset your latch password", "en", []string{"Hello,"}},
	} {
		msg, err := r.Render(storage.MailJob{To: "ann@example.com", Template: TemplatePasswordReset, Locale: tc.locale,
			Data: map[string]string{"link": "https://id.example.com/reset?token=t", "expires": "30m0s"}})
		if err != nil {
			t.Fatal(err)
		}
		if msg.Subject != tc.subject || !bytes.Contains(msg.Raw, []byte("Content-Language: "+tc.lang+"\r\n")) {
			t.Errorf("%q: subject %q, header %q", tc.locale, msg.Subject, msg.Raw[:bytes.Index(msg.Raw, []byte("\r\n\r\n"))])
		}
		for _, want := range tc.says {
			if !strings.Contains(msg.Text, want) {
				t.Errorf("%q: the text lacks %q:\n%s", tc.locale, want, msg.Text)
			}
		}
		if !strings.Contains(msg.HTML, `<html lang="`+tc.lang+`">`) {
			t.Errorf("%q: the HTML part is not marked %s", tc.locale, tc.lang)
		}
	}
	msg, err := r.Render(storage.MailJob{To: "ann@example.com", Template: TemplatePasswordChanged, Locale: "de", Data: map[string]string{"at": "2025-03-04T05:06:07Z"}})
	if err != nil || !strings.Contains(msg.Text, "Dienstag, 4. März 2025, 05:06 Uhr UTC") || !strings.Contains(msg.Text, "Von IP:  unbekannt") {
		t.Errorf("a German notice: %v\n%s", err, msg.Text)
	}
}
