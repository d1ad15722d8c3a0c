package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"

	"github.com/latch-idp/latch/brand"
	"github.com/latch-idp/latch/locale"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// MaxFormBytes bounds the body of every page request: forms here are a few
// fields long.
const MaxFormBytes = 64 << 10

// StaticPrefix is where the stylesheet is served.
const StaticPrefix = "/static/"

// Template files of this package, each replaceable from
// LATCH_TEMPLATES_DIR/web/.
const (
	fileLayout = "templates/layout.html"
	fileError  = "templates/error.html"
)

// View is what every page template receives: the layout reads Title,
// CSRF, Lang, Languages and Brand, the page its own Data.
type View struct {
	Title string
	CSRF  string // the token every form carries in the field csrf_token
	// Lang is the code of the page's language (<html lang>); Languages
	// the switcher's entries, one per shipped language.
	Lang      string
	Languages []LanguageLink
	// Brand is the operator's product name, logo and support link;
	// BrandCSS the path of the stylesheet with its colours, empty when
	// the pages keep latch's.
	Brand    brand.Brand
	BrandCSS string
	// Script names latch's own script the page loads from StaticPrefix
	// (ScriptPasskey); empty on every page that needs none.
	Script string
	Data   any
}

// ScriptPasskey is the one script latch serves: the WebAuthn ceremonies
// of the passkey pages.
const ScriptPasskey = "passkey.js"

// Site is the page plumbing of one issuer.
type Site struct {
	secure bool // https issuer: Secure __Host- cookies and HSTS
	csrf   *CSRF
	log    *slog.Logger

	brand     brand.Brand
	brandCSS  []byte // the brand colours' stylesheet; nil: latch's own
	cssPath   string // where brandCSS is served, its hash in the name
	csp       string // ContentSecurityPolicy, plus the logo's origin
	scriptCSP string
	templates *brand.Templates
	// layout is the shared layout; pages clone it and define "content".
	// It is never executed itself, so it can always be cloned.
	layout    *template.Template
	errorPage map[string]*template.Template // by language code
}

// NewSite returns the plumbing for pages served under issuer, looking as
// look says. The box keys the CSRF tokens. A brand colour or a layout
// override that cannot be used is an error.
func NewSite(issuer string, box *secret.Box, log *slog.Logger, look brand.Look) (*Site, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, fmt.Errorf("web: issuer %q is not an absolute http(s) URL", issuer)
	}
	if box == nil {
		return nil, fmt.Errorf("web: no secret box")
	}
	if log == nil {
		log = slog.Default()
	}
	secure := u.Scheme == "https"
	s := &Site{secure: secure, csrf: &CSRF{box: box, secure: secure}, log: log, brand: look.Brand, templates: look.Templates,
		csp: ContentSecurityPolicy, scriptCSP: ScriptContentSecurityPolicy}
	s.brand.Name = look.Brand.ProductName()
	if look.Brand.Color != "" {
		p, err := brand.CheckColor(look.Brand.Color)
		if err != nil {
			return nil, fmt.Errorf("LATCH_BRAND_COLOR: %w", err)
		}
		s.brandCSS = p.Stylesheet()
		s.cssPath = StaticPrefix + "brand-" + brand.Hash(s.brandCSS) + ".css"
	}
	if origin := brand.LogoOrigin(issuer, look.Brand.LogoURL); origin != "" {
		s.csp = strings.Replace(s.csp, "img-src 'self' data:", "img-src 'self' data: "+origin, 1)
		s.scriptCSP = strings.Replace(s.scriptCSP, "img-src 'self' data:", "img-src 'self' data: "+origin, 1)
	}
	fsys := look.Templates.FS("web", templateFS, "templates")
	// Parsed with English's functions; each language's clone gets its own.
	if s.layout, err = template.New("layout").Funcs(funcs(locale.Get(locale.Default))).ParseFS(fsys, fileLayout); err != nil {
		return nil, look.Templates.Err("web", "templates", fileLayout, fmt.Errorf("web: parse %s: %w", fileLayout, err))
	}
	if s.errorPage, err = s.languages(fsys, "web", fileError); err != nil {
		return nil, err
	}
	return s, nil
}

// languages parses the page file of package pkg from fsys with the
// layout, once for every shipped language, each checked.
func (s *Site) languages(fsys fs.FS, pkg, file string) (map[string]*template.Template, error) {
	t, err := s.page(fsys, pkg, file)
	if err != nil {
		return nil, err
	}
	m := make(map[string]*template.Template, len(locale.Codes()))
	for _, l := range locale.All() {
		c, err := t.Clone()
		if err != nil {
			return nil, err
		}
		c.Funcs(funcs(l))
		if err := s.check(pkg, file, c); err != nil {
			return nil, err
		}
		m[l.Code()] = c
	}
	return m, nil
}

// check executes t once, with no data, so that html/template escapes it
// now: a template whose escaping fails (an action inside a tag's name, an
// unclosed attribute) is refused at start rather than on its first
// request. Errors from the missing data are expected and ignored. t can
// no longer be cloned afterwards.
func (s *Site) check(pkg, file string, t *template.Template) error {
	var escape *template.Error
	if err := t.ExecuteTemplate(io.Discard, "layout", View{}); errors.As(err, &escape) {
		return s.templates.Err(pkg, "templates", file, err)
	}
	return nil
}

// page parses the page file of package pkg from fsys with the layout.
func (s *Site) page(fsys fs.FS, pkg, file string) (*template.Template, error) {
	t, err := s.layout.Clone()
	if err != nil {
		return nil, err
	}
	if t, err = t.ParseFS(fsys, file); err != nil {
		return nil, s.templates.Err(pkg, "templates", file, err)
	}
	return t, nil
}

// Brand is the operator's brand the pages show (with its name filled in).
func (s *Site) Brand() brand.Brand { return s.brand }

// Secure reports whether cookies are Secure (the issuer is https).
func (s *Site) Secure() bool { return s.secure }

// Logger returns the site's logger.
func (s *Site) Logger() *slog.Logger { return s.log }

// Wrap applies what every page needs: security headers, a body size limit
// and, for unsafe methods, the CSRF check (403 on a missing or wrong token).
func (s *Site) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.SetSecurityHeaders(w.Header())
		r = r.WithContext(locale.WithLang(r.Context(), Lang(r)))
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if err := r.ParseForm(); err != nil {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					s.Error(w, r, http.StatusRequestEntityTooLarge, "error.form_too_large")
					return
				}
				s.Error(w, r, http.StatusBadRequest, "error.form_unreadable")
				return
			}
			if !s.csrf.Valid(r) {
				s.Problem(w, r, http.StatusForbidden, ProblemExpiredForm)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// ContentSecurityPolicy allows only this site's stylesheet and inline
// images (the TOTP QR code is a data: URL). No script runs at all.
//
// There is deliberately no form-action directive: browsers apply it to the
// redirects that follow a form post, and the consent form's answer is
// redirected on to the client's redirect URI.
const ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"

// ScriptContentSecurityPolicy is the policy of the pages that run latch's
// own script (View.Script): ContentSecurityPolicy plus scripts from this
// origin only (never inline, never eval) and requests back to it.
const ScriptContentSecurityPolicy = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"

// SetSecurityHeaders sets the headers every page carries, with
// Strict-Transport-Security when the site is served over https.
func (s *Site) SetSecurityHeaders(h http.Header) {
	hsts := s.secure
	h.Set("Content-Security-Policy", s.csp)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if hsts {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
}

// MountAssets serves the stylesheet and script under StaticPrefix, the
// brand colours' stylesheet, whose name changes with its content, so
// browsers keep it for a year, and the language switcher.
func (s *Site) MountAssets(r *mux.Router) {
	r.HandleFunc(PathLanguage, s.switchLanguage).Methods(http.MethodGet)
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // the embedded directory exists at build time
	}
	if s.cssPath != "" {
		r.Path(s.cssPath).Methods(http.MethodGet, http.MethodHead).HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.SetSecurityHeaders(w.Header())
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
			w.Header().Set("Content-Type", "text/css; charset=utf-8")
			if r.Method != http.MethodHead {
				w.Write(s.brandCSS)
			}
		})
	}
	files := http.StripPrefix(StaticPrefix, http.FileServerFS(sub))
	r.PathPrefix(StaticPrefix).Methods(http.MethodGet, http.MethodHead).Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.SetSecurityHeaders(w.Header())
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	}))
}

// Pages is a set of page templates, each parsed with the layout at start,
// one copy per language.
type Pages struct {
	site *Site
	tmpl map[string]map[string]*template.Template // page -> language -> template
}

// Pages parses the named page files of fsys, the embedded templates of
// package pkg, each with the shared layout; a file templates/NAME is
// replaced by the override pkg/NAME of LATCH_TEMPLATES_DIR when there is
// one. A page file defines "content". An error here is a build mistake or
// a broken override: callers fail at start.
func (s *Site) Pages(pkg string, fsys fs.FS, files ...string) (*Pages, error) {
	p := &Pages{site: s, tmpl: make(map[string]map[string]*template.Template, len(files))}
	fsys = s.templates.FS(pkg, fsys, "templates")
	for _, f := range files {
		m, err := s.languages(fsys, pkg, f)
		if err != nil {
			return nil, err
		}
		p.tmpl[f] = m
	}
	return p, nil
}

// Render writes page with status, in the request's language; title is the
// message ID of its title. The page is executed into a buffer first, so a
// template error becomes a clean 500 rather than half a page.
func (p *Pages) Render(w http.ResponseWriter, r *http.Request, status int, page, title string, data any) {
	p.RenderScript(w, r, status, page, title, "", data)
}

// RenderScript is Render for a page that runs latch's script named script
// (ScriptPasskey).
func (p *Pages) RenderScript(w http.ResponseWriter, r *http.Request, status int, page, title, script string, data any) {
	t, ok := p.tmpl[page]
	if !ok {
		p.site.log.ErrorContext(r.Context(), "unknown page template", "page", page)
		p.site.Error(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	p.site.render(w, r, t, status, View{Title: T(r, title), CSRF: p.site.csrf.Token(w, r), Script: script, Data: data})
}

func (s *Site) render(w http.ResponseWriter, r *http.Request, ts map[string]*template.Template, status int, v View) {
	l := Lang(r)
	t := ts[l.Code()]
	v.Lang, v.Languages = l.Code(), languageLinks(r, l, status)
	v.Brand, v.BrandCSS = s.brand, s.cssPath
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.ErrorContext(r.Context(), "render page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	s.SetSecurityHeaders(w.Header())
	if v.Script != "" {
		w.Header().Set("Content-Security-Policy", s.scriptCSP)
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(buf.Bytes())
	}
}

// Problem is what an error page tells people: what happened (Heading),
// what it means for them and what to do (Message), and where to go next
// (an optional link). It is written for the person in front of the page,
// never in the words of a status code. Heading, Message and LinkText are
// message IDs of the catalog (package locale), shown in the request's
// language; Args fill Message (see locale.Lang.T).
type Problem struct {
	Heading  string // empty: the status's heading (Heading)
	Message  string
	Args     []any
	LinkText string
	LinkHref string // a path of latch's own
}

// ErrorPage is the data of the error page: a Problem in the request's
// language.
type ErrorPage struct {
	Status                               int
	Heading, Message, LinkText, LinkHref string
}

// headed are the statuses with a heading of their own in the catalog
// ("status.400"); any other takes its class's (Heading).
var headed = map[int]bool{
	http.StatusBadRequest:            true,
	http.StatusForbidden:             true,
	http.StatusNotFound:              true,
	http.StatusConflict:              true,
	http.StatusRequestEntityTooLarge: true,
	http.StatusTooManyRequests:       true,
	http.StatusInternalServerError:   true,
	http.StatusServiceUnavailable:    true,
}

// Heading is the message ID of the error page's heading for status when
// the problem has none.
func Heading(status int) string {
	switch {
	case headed[status]:
	case status >= 500:
		status = http.StatusInternalServerError
	default:
		status = http.StatusBadRequest
	}
	return "status." + strconv.Itoa(status)
}

// Common problems, each written once for every page that meets it.
var (
	// ProblemExpiredLink: a link from an email that is unknown, expired
	// or used.
	ProblemExpiredLink = Problem{Heading: "problem.expired_link", Message: "problem.expired_link_text"}
	// ProblemExpiredSignIn: a sign-in request that is unknown, expired,
	// used, or of another browser.
	ProblemExpiredSignIn = Problem{Heading: "problem.expired_sign_in", Message: "problem.expired_sign_in_text"}
	// ProblemExpiredForm: a form whose CSRF token does not match.
	ProblemExpiredForm = Problem{Heading: "problem.expired_form", Message: "problem.expired_form_text"}
)

// Misconfigured is the problem of an application whose request cannot be
// answered by redirecting back to it: only its developer can fix it, and
// detail is what they need to know (the protocol's own words, in English,
// as it is meant for the developer).
func Misconfigured(detail string) Problem {
	p := Problem{Heading: "problem.misconfigured", Message: "problem.misconfigured_text"}
	if detail != "" {
		p.Message, p.Args = "problem.misconfigured_detail", []any{"Detail", detail}
	}
	return p
}

// UnavailableMessage is what a page says while a store cannot be reached.
const UnavailableMessage = "error.unavailable"

// Fail answers a request that failed on latch's side, logging what failed
// with err: 503 with a Retry-After when a store could not be reached (an
// outage, logged as a warning), 500 otherwise.
func (s *Site) Fail(w http.ResponseWriter, r *http.Request, log *slog.Logger, what string, err error) {
	if r.Context().Err() != nil {
		// The browser went away mid-request: nobody reads this answer.
		log.InfoContext(r.Context(), what+": request ended before its answer", "err", err)
		s.Error(w, r, http.StatusServiceUnavailable, UnavailableMessage)
		return
	}
	if storage.Unavailable(err) {
		log.WarnContext(r.Context(), what+": storage unavailable", "err", err)
		w.Header().Set("Retry-After", "5")
		s.Error(w, r, http.StatusServiceUnavailable, UnavailableMessage)
		return
	}
	log.ErrorContext(r.Context(), what, "err", err)
	s.Error(w, r, http.StatusInternalServerError, InternalMessage)
}

// InternalMessage is what a page says when latch failed on its side.
const InternalMessage = "error.internal_retry"

// Error writes the error page: a status and the message meant for people
// with the ID message, filled with args, under the status's heading.
func (s *Site) Error(w http.ResponseWriter, r *http.Request, status int, message string, args ...any) {
	s.Problem(w, r, status, Problem{Message: message, Args: args})
}

// Problem writes the error page for p with status, in the request's
// language.
func (s *Site) Problem(w http.ResponseWriter, r *http.Request, status int, p Problem) {
	if p.Heading == "" {
		p.Heading = Heading(status)
	}
	l := Lang(r)
	page := ErrorPage{Status: status, Heading: l.T(p.Heading), Message: l.T(p.Message, p.Args...), LinkHref: p.LinkHref}
	if p.LinkText != "" {
		page.LinkText = l.T(p.LinkText)
	}
	s.render(w, r, s.errorPage, status, View{Title: page.Heading, Data: page})
}

// ScriptAnswer is what latch's script gets from an endpoint that has no
// options for it: where to go instead, or what to tell the user.
type ScriptAnswer struct {
	Redirect string `json:"redirect,omitempty"`
	Error    string `json:"error,omitempty"`
}

// ScriptFailed is Fail for a request of latch's script: 503 with a
// Retry-After when a store could not be reached, 500 otherwise, each with
// a message the script shows.
func (s *Site) ScriptFailed(w http.ResponseWriter, r *http.Request, log *slog.Logger, what string, err error) {
	if storage.Unavailable(err) || r.Context().Err() != nil {
		log.WarnContext(r.Context(), what+": storage unavailable", "err", err)
		w.Header().Set("Retry-After", "5")
		JSON(w, http.StatusServiceUnavailable, ScriptAnswer{Error: T(r, UnavailableMessage)})
		return
	}
	log.ErrorContext(r.Context(), what, "err", err)
	JSON(w, http.StatusInternalServerError, ScriptAnswer{Error: T(r, InternalMessage)})
}

// JSON writes v as a JSON answer to latch's own script (ScriptPasskey).
func JSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		status, data = http.StatusInternalServerError, []byte(`{"error":"Something went wrong on our side."}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(data)
}

// Redirect sends a 303 See Other: after a POST the browser must follow
// with a GET and never resend the form (RFC 9700 4.12).
func Redirect(w http.ResponseWriter, r *http.Request, target string) {
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// ClientIP is the client's address: the peer's, or, behind a trusted proxy,
// the one its forwarding headers name (Proxies.Middleware puts it in
// RemoteAddr).
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// LocalPath reports whether p is a path on this site, safe to redirect to:
// it starts with one slash, has no scheme, host or backslash, so it can never
// send the browser elsewhere.
func LocalPath(p string) bool {
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n\t") {
		return false
	}
	u, err := url.Parse(p)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil
}
