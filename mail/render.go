package mail

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"net/textproto"
	"net/url"
	"path"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/latch-idp/latch/brand"
	"github.com/latch-idp/latch/locale"
	"github.com/latch-idp/latch/storage"
)

// Template names, the values of storage.MailJob.Template.
const (
	// TemplateVerify asks to confirm an email address. Data: link.
	TemplateVerify = "verify_email"
	// TemplatePasswordReset carries a password reset link. Data: link,
	// expires (e.g. "30 minutes").
	TemplatePasswordReset = "password_reset"
	// TemplateRefreshReuse is the security alert sent when a refresh token
	// was reused and every session of that app was signed out. Data:
	// client_id, at; optional client_name, ip, user_agent.
	TemplateRefreshReuse = "refresh_reuse"
	// TemplatePasswordChanged is a security notice. Data: at; optional ip.
	TemplatePasswordChanged = "password_changed"
	// TemplateTOTPEnabled is a security notice. Data: at; optional ip.
	TemplateTOTPEnabled = "totp_enabled"
	// TemplateTOTPDisabled is a security notice. Data: at; optional ip.
	TemplateTOTPDisabled = "totp_disabled"
	// TemplateBackupCodesRegenerated is a security notice. Data: at;
	// optional ip.
	TemplateBackupCodesRegenerated = "backup_codes_regenerated"
	// TemplatePasskeyAdded and TemplatePasskeyRemoved are security
	// notices. Data: name (the passkey's), at; optional ip.
	TemplatePasskeyAdded   = "passkey_added"
	TemplatePasskeyRemoved = "passkey_removed"
	// TemplateEmailChange asks to confirm a new address of an account.
	// Data: link, expires.
	TemplateEmailChange = "email_change"
	// TemplateEmailChanged tells the old address that the account moved.
	// Data: email (the new address), at; optional ip.
	TemplateEmailChanged = "email_changed"
	// TemplateAccountDeleted tells the address that its account was
	// deleted. Data: at; optional ip.
	TemplateAccountDeleted = "account_deleted"
)

// Data keys. "at" is an RFC 3339 time (shown in UTC) or text shown as is;
// "link" must be an absolute http(s) URL.
const (
	keyLink       = "link"
	keyExpires    = "expires"
	keyAt         = "at"
	keyIP         = "ip"
	keyUserAgent  = "user_agent"
	keyClientID   = "client_id"
	keyClientName = "client_name"
	keyName       = "name"
	keyEmail      = "email"
)

// ErrHeaderInjection is returned when a header value would carry a line
// break (or another control character) into the message header.
var ErrHeaderInjection = errors.New("mail: line break or control character in a header value")

// spec says which Data keys a template needs. Optional keys that are absent
// or empty are shown as "unknown" (client_name falls back to client_id).
type spec struct {
	required []string
	optional []string
}

var specs = map[string]spec{
	TemplateVerify:                 {required: []string{keyLink}},
	TemplatePasswordReset:          {required: []string{keyLink, keyExpires}},
	TemplateRefreshReuse:           {required: []string{keyClientID, keyAt}, optional: []string{keyClientName, keyIP, keyUserAgent}},
	TemplatePasswordChanged:        {required: []string{keyAt}, optional: []string{keyIP}},
	TemplateTOTPEnabled:            {required: []string{keyAt}, optional: []string{keyIP}},
	TemplateTOTPDisabled:           {required: []string{keyAt}, optional: []string{keyIP}},
	TemplateBackupCodesRegenerated: {required: []string{keyAt}, optional: []string{keyIP}},
	TemplatePasskeyAdded:           {required: []string{keyName, keyAt}, optional: []string{keyIP}},
	TemplatePasskeyRemoved:         {required: []string{keyName, keyAt}, optional: []string{keyIP}},
	TemplateEmailChange:            {required: []string{keyLink, keyExpires}},
	TemplateEmailChanged:           {required: []string{keyEmail, keyAt}, optional: []string{keyIP}},
	TemplateAccountDeleted:         {required: []string{keyAt}, optional: []string{keyIP}},
}

// Templates returns the names of every template, sorted.
func Templates() []string {
	names := make([]string, 0, len(specs))
	for n := range specs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

//go:embed templates
var templateFS embed.FS

type templatePair struct {
	text *texttemplate.Template // defines "subject" and "layout"
	html *htmltemplate.Template // defines "layout"
}

// funcs are the template functions of emails in l: t, a message of the
// catalog (see locale.Lang.T).
func funcs(l locale.Lang) map[string]any { return map[string]any{"t": l.T} }

// parse parses every template, each file replaced by its override in
// templates (LATCH_TEMPLATES_DIR/mail/NAME) when there is one, once for
// every shipped language: by template, then by language code.
func parse(templates *brand.Templates) (map[string]map[string]templatePair, error) {
	fsys := templates.FS("mail", templateFS, "templates")
	en := funcs(locale.Get(locale.Default))
	m := make(map[string]map[string]templatePair, len(specs))
	for _, name := range Templates() {
		files := func(ext string) []string {
			return []string{"templates/layout." + ext, "templates/notice." + ext, "templates/" + name + "." + ext}
		}
		text, err := texttemplate.New(name).Option("missingkey=error").Funcs(en).ParseFS(fsys, files("txt")...)
		if err != nil {
			return nil, templates.Err("mail", "templates", templateFile(err, files("txt")), err)
		}
		html, err := htmltemplate.New(name).Option("missingkey=error").Funcs(en).ParseFS(fsys, files("html")...)
		if err != nil {
			return nil, templates.Err("mail", "templates", templateFile(err, files("html")), err)
		}
		for _, def := range []string{"subject", "body", "layout"} {
			if text.Lookup(def) == nil {
				f := "templates/" + name + ".txt"
				return nil, templates.Err("mail", "templates", f, fmt.Errorf("mail: %s does not define %q", f, def))
			}
		}
		for _, def := range []string{"body", "layout"} {
			if html.Lookup(def) == nil {
				f := "templates/" + name + ".html"
				return nil, templates.Err("mail", "templates", f, fmt.Errorf("mail: %s does not define %q", f, def))
			}
		}
		m[name] = map[string]templatePair{}
		for _, l := range locale.All() {
			t, err := text.Clone()
			if err != nil {
				return nil, err
			}
			h, err := html.Clone()
			if err != nil {
				return nil, err
			}
			m[name][l.Code()] = templatePair{text: t.Funcs(funcs(l)), html: h.Funcs(funcs(l))}
		}
	}
	return m, nil
}

// templateFile is the file of files a parse error names ("template:
// NAME:LINE: ..."), or the last one.
func templateFile(err error, files []string) string {
	for _, f := range files {
		if strings.Contains(err.Error(), " "+path.Base(f)+":") {
			return f
		}
	}
	return files[len(files)-1]
}

// Message is one rendered email.
type Message struct {
	From      netmail.Address
	To        netmail.Address
	Subject   string
	Date      time.Time
	MessageID string // with angle brackets
	Text      string // plain-text part, "\n" line ends
	HTML      string // HTML part
	Language  string // its language code, the Content-Language header
	// Raw is the complete RFC 5322 message (multipart/alternative,
	// quoted-printable parts, CRLF line ends), ready for SMTP DATA.
	Raw []byte
}

// Renderer renders mail jobs into complete messages.
type Renderer struct {
	brand      brand.Brand
	templates  map[string]map[string]templatePair // by template, then language
	issuer     string
	accountURL string
	forgotURL  string
	from       netmail.Address
	idDomain   string // right-hand side of Message-IDs
	now        func() time.Time
}

// Pages are the paths of the pages emails link to, named by the packages
// that serve them.
type Pages struct {
	Account string // the account page
	Forgot  string // where a password reset starts
}

// NewRenderer returns a Renderer for the issuer (LATCH_ISSUER). from is
// LATCH_SMTP_FROM ("addr@example.com" or "Name <addr@example.com>"); empty
// means "PRODUCT <noreply@ISSUER-HOST>". look gives the product name,
// support link and template overrides. Every template is rendered once
// with sample data, so a defect (a broken override too) shows at start,
// not in the first email.
func NewRenderer(issuer, from string, pages Pages, look brand.Look) (*Renderer, error) {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
		return nil, fmt.Errorf("mail: issuer %q is not an absolute http(s) URL", issuer)
	}
	base := strings.TrimRight(issuer, "/")
	tmpl, err := parse(look.Templates)
	if err != nil {
		return nil, err
	}
	r := &Renderer{
		brand:      look.Brand,
		templates:  tmpl,
		issuer:     base,
		accountURL: base + pages.Account,
		forgotURL:  base + pages.Forgot,
		idDomain:   u.Hostname(),
		now:        time.Now,
	}
	if from == "" {
		r.from = netmail.Address{Name: look.Brand.ProductName(), Address: "noreply@" + u.Hostname()}
	} else {
		if err := checkHeaderValue(from); err != nil {
			return nil, fmt.Errorf("mail: LATCH_SMTP_FROM: %w", err)
		}
		a, err := netmail.ParseAddress(from)
		if err != nil {
			return nil, fmt.Errorf("mail: LATCH_SMTP_FROM %q is not an email address: %w", from, err)
		}
		r.from = *a
	}
	for _, name := range Templates() {
		for _, l := range locale.Codes() {
			job := sampleJob(name)
			job.Locale = l
			if _, err := r.Render(job); err != nil {
				err = fmt.Errorf("mail: template %s does not render in %s: %w", name, l, err)
				if over := look.Templates.Overrides("mail"); len(over) > 0 {
					return nil, &brand.OverrideError{File: strings.Join(over, ", "), Err: err}
				}
				return nil, err
			}
		}
	}
	return r, nil
}

// From returns the sender address of every message.
func (r *Renderer) From() netmail.Address { return r.from }

func sampleJob(name string) storage.MailJob {
	data := map[string]string{}
	s := specs[name]
	for _, k := range append(slices.Clone(s.required), s.optional...) {
		switch k {
		case keyLink:
			data[k] = "https://issuer.example/check?token=sample"
		case keyAt:
			data[k] = "2006-01-02T15:04:05Z"
		default:
			data[k] = "sample"
		}
	}
	return storage.MailJob{To: "someone@example.com", Template: name, Data: data}
}

// Validate reports whether job names a known template with the data it
// needs and a valid recipient, without rendering it. Enqueuers call it so
// that a bad job fails where it is made, not in the background.
func Validate(job storage.MailJob) error {
	_, _, err := prepare(job, locale.Get(job.Locale))
	return err
}

// prepare checks the job and returns the parsed recipient and the data with
// optional keys filled in, and times and durations in l's words.
func prepare(job storage.MailJob, l locale.Lang) (*netmail.Address, map[string]string, error) {
	s, ok := specs[job.Template]
	if !ok {
		return nil, nil, fmt.Errorf("mail: unknown template %q (known: %s)", job.Template, strings.Join(Templates(), ", "))
	}
	if err := checkHeaderValue(job.To); err != nil {
		return nil, nil, fmt.Errorf("mail: recipient: %w", err)
	}
	to, err := netmail.ParseAddress(job.To)
	if err != nil {
		// The address is not echoed: logs must carry the domain only.
		return nil, nil, fmt.Errorf("mail: recipient is not a valid email address: %w", err)
	}
	var missing []string
	for _, k := range s.required {
		if job.Data[k] == "" {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("mail: template %s: missing data %s", job.Template, strings.Join(missing, ", "))
	}
	data := make(map[string]string, len(job.Data)+len(s.optional))
	for k, v := range job.Data {
		data[k] = v
	}
	if slices.Contains(s.optional, keyClientName) && data[keyClientName] == "" {
		data[keyClientName] = data[keyClientID]
	}
	for _, k := range s.optional {
		if data[k] == "" {
			data[k] = l.T("mail.unknown")
		}
	}
	if link, ok := data[keyLink]; ok {
		u, err := url.Parse(link)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			// The link holds a token: never echo it.
			return nil, nil, fmt.Errorf("mail: template %s: link is not an absolute http(s) URL", job.Template)
		}
	}
	if at, ok := data[keyAt]; ok {
		// RFC 1123 is how jobs queued by earlier versions carry it.
		if t, err := time.Parse(time.RFC3339, at); err == nil {
			data[keyAt] = when(l, t)
		} else if t, err := time.Parse(time.RFC1123, at); err == nil {
			data[keyAt] = when(l, t)
		}
	}
	if exp, ok := data[keyExpires]; ok {
		// Text is how jobs queued by earlier versions carry it.
		if d, err := time.ParseDuration(exp); err == nil {
			data[keyExpires] = duration(l, d)
		}
	}
	return to, data, nil
}

// when is t as an email says it, in UTC: "Tuesday 4 March 2025, 05:06 UTC".
func when(l locale.Lang, t time.Time) string {
	t = t.UTC()
	return l.T("mail.at", "Weekday", l.T(fmt.Sprintf("mail.weekday.%d", t.Weekday())), "Day", t.Day(),
		"Month", l.T(fmt.Sprintf("date.month.%d", t.Month())), "Year", t.Year(), "Time", t.Format("15:04"))
}

// duration is how long a link lives, in whole hours or minutes.
func duration(l locale.Lang, d time.Duration) string {
	if d >= time.Hour && d%time.Hour == 0 {
		return l.T("mail.hours", "Count", int(d/time.Hour))
	}
	return l.T("mail.minutes", "Count", int(d.Round(time.Minute)/time.Minute))
}

type view struct {
	Lang       string // the language code, for <html lang>
	Button     string // the message ID of the link's button (With)
	Product    string
	Support    string // the support link, https or mailto; empty: none
	Issuer     string
	AccountURL string
	ForgotURL  string
	To         string // bare address
	Subject    string
	Data       map[string]string
}

// With is v with the button of its link labelled by the message id, for
// the "button" template.
func (v view) With(id string) view {
	v.Button = id
	return v
}

// Render renders job into a complete message, in the language of
// job.Locale (English when it names none latch ships). An unknown
// template, missing data, an invalid recipient or a line break in a header
// value is an error.
func (r *Renderer) Render(job storage.MailJob) (Message, error) {
	l := locale.Get(job.Locale)
	to, data, err := prepare(job, l)
	if err != nil {
		return Message{}, err
	}
	t := r.templates[job.Template][l.Code()]
	v := view{
		Lang:       l.Code(),
		Product:    r.brand.ProductName(),
		Support:    r.brand.SupportURL,
		Issuer:     r.issuer,
		AccountURL: r.accountURL,
		ForgotURL:  r.forgotURL,
		To:         to.Address,
		Data:       data,
	}
	var subject, text, html bytes.Buffer
	if err := t.text.ExecuteTemplate(&subject, "subject", v); err != nil {
		return Message{}, fmt.Errorf("mail: template %s: subject: %w", job.Template, err)
	}
	v.Subject = strings.TrimSpace(subject.String())
	if err := checkHeaderValue(v.Subject); err != nil {
		return Message{}, fmt.Errorf("mail: template %s: subject: %w", job.Template, err)
	}
	if err := t.text.ExecuteTemplate(&text, "layout", v); err != nil {
		return Message{}, fmt.Errorf("mail: template %s: text part: %w", job.Template, err)
	}
	if err := t.html.ExecuteTemplate(&html, "layout", v); err != nil {
		return Message{}, fmt.Errorf("mail: template %s: HTML part: %w", job.Template, err)
	}
	msg := Message{
		From:      r.from,
		To:        *to,
		Subject:   v.Subject,
		Date:      r.now().UTC().Truncate(time.Second),
		MessageID: "<" + randomHex(16) + "@" + r.idDomain + ">",
		Text:      text.String(),
		HTML:      html.String(),
		Language:  l.Code(),
	}
	msg.Raw, err = encode(msg)
	if err != nil {
		return Message{}, fmt.Errorf("mail: template %s: %w", job.Template, err)
	}
	return msg, nil
}

// encode writes the RFC 5322 / MIME form of msg.
func encode(msg Message) ([]byte, error) {
	var b bytes.Buffer
	body := multipart.NewWriter(nil)
	headers := [][2]string{
		{"From", msg.From.String()},
		{"To", msg.To.String()},
		{"Subject", mime.QEncoding.Encode("utf-8", msg.Subject)},
		{"Date", msg.Date.Format(time.RFC1123Z)},
		{"Message-ID", msg.MessageID},
		{"MIME-Version", "1.0"},
		{"Content-Language", msg.Language},
		{"Auto-Submitted", "auto-generated"}, // RFC 3834: no auto-replies
		{"Content-Type", mime.FormatMediaType("multipart/alternative", map[string]string{"boundary": body.Boundary()})},
	}
	for _, h := range headers {
		if h[1] == "" {
			continue // a Message made without a language
		}
		if err := checkHeaderValue(h[1]); err != nil {
			return nil, fmt.Errorf("header %s: %w", h[0], err)
		}
		b.WriteString(h[0])
		b.WriteString(": ")
		b.WriteString(h[1])
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	mw := multipart.NewWriter(&b)
	if err := mw.SetBoundary(body.Boundary()); err != nil {
		return nil, err
	}
	for _, part := range []struct{ ctype, content string }{
		{"text/plain; charset=utf-8", msg.Text},
		{"text/html; charset=utf-8", msg.HTML},
	} {
		w, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {part.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(w)
		if _, err := qp.Write([]byte(strings.ReplaceAll(part.content, "\r\n", "\n"))); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// checkHeaderValue refuses what could end a header line early and start a
// new header (or a body): CR, LF, and other control characters.
func checkHeaderValue(v string) error {
	for _, c := range v {
		if c == '\r' || c == '\n' || (c < 0x20 && c != '\t') || c == 0x7f {
			return ErrHeaderInjection
		}
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}

// domainOf returns the domain of an address for logs, which must never carry
// the full recipient.
func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		d := strings.TrimSuffix(addr[i+1:], ">")
		if checkHeaderValue(d) == nil {
			return d
		}
	}
	return "invalid"
}
