package web

import (
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/latch-idp/latch/locale"
)

// LangCookie remembers the language a person chose with the switcher at
// the foot of every page, or that the application asked for with
// ui_locales: a preference, not a secret.
const LangCookie = "latch_lang"

// PathLanguage is where the switcher sends the browser: ?lang=CODE and
// return_to, the page to go back to.
const PathLanguage = "/language"

// Lang is the language of r's pages and of the emails r causes: the one
// Wrap put into r's context, or else the one the language cookie names
// (chosen with the switcher, or asked for with ui_locales), else the best
// of Accept-Language, else English.
func Lang(r *http.Request) locale.Lang {
	if l, ok := locale.FromContext(r.Context()); ok {
		return l
	}
	return negotiate(r)
}

func negotiate(r *http.Request) locale.Lang {
	cookie := ""
	if c, err := r.Cookie(LangCookie); err == nil {
		cookie = c.Value
	}
	l, _ := locale.Match(cookie, r.Header.Get("Accept-Language"))
	return l
}

// T is the message id in r's language (see locale.Lang.T).
func T(r *http.Request, id string, args ...any) string { return Lang(r).T(id, args...) }

// RememberLanguage keeps the first shipped language of prefs (the
// ui_locales of an authorization request) for the rest of the browser
// session, and returns r carrying it; r unchanged when none is shipped.
func (s *Site) RememberLanguage(w http.ResponseWriter, r *http.Request, prefs string) *http.Request {
	l, ok := locale.Match(prefs)
	if !ok {
		return r
	}
	s.setLangCookie(w, l, 0)
	return r.WithContext(locale.WithLang(r.Context(), l))
}

func (s *Site) setLangCookie(w http.ResponseWriter, l locale.Lang, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name: LangCookie, Value: l.Code(), Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode,
	})
}

// switchLanguage answers the switcher: it keeps the language chosen for a
// year and sends the browser back where it was.
func (s *Site) switchLanguage(w http.ResponseWriter, r *http.Request) {
	l, ok := locale.Match(r.URL.Query().Get("lang"))
	back := r.URL.Query().Get("return_to")
	if !LocalPath(back) {
		back = "/"
	}
	if ok {
		s.setLangCookie(w, l, 365*24*60*60)
	}
	Redirect(w, r, back)
}

// LanguageLink is one entry of the switcher.
type LanguageLink struct {
	Code, Name, Href string
	Current          bool
}

// languageLinks are the switcher's entries on the answer to r. Each comes
// back to the same page: its path, and of its query only what the page
// needs to be itself again (the sign-in flow, a link's token, a local
// return path), so the switcher never repeats what a stranger put in a
// URL. An error page, or a form's answer, comes back to the path alone.
func languageLinks(r *http.Request, current locale.Lang, status int) []LanguageLink {
	back := r.URL.Path
	if status < 400 && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		q, keep := r.URL.Query(), url.Values{}
		for _, k := range []string{"flow", "token"} {
			if v := q.Get(k); v != "" {
				keep.Set(k, v)
			}
		}
		if v := q.Get("return_to"); LocalPath(v) {
			keep.Set("return_to", v)
		}
		if len(keep) > 0 {
			back += "?" + keep.Encode()
		}
	}
	var out []LanguageLink
	for _, l := range locale.All() {
		href := PathLanguage + "?lang=" + l.Code()
		if LocalPath(back) {
			href += "&return_to=" + url.QueryEscape(back)
		}
		out = append(out, LanguageLink{Code: l.Code(), Name: l.T("language.name"), Href: href, Current: l.Code() == current.Code()})
	}
	return out
}

// funcs are the template functions of pages in l: t (a message), th (a
// message with markup of its own), date and day (a time in l's words).
func funcs(l locale.Lang) template.FuncMap {
	return template.FuncMap{
		"t":    l.T,
		"th":   l.HTML,
		"date": l.Date,
		"day":  l.Day,
	}
}

// RetryText says when to try again after a lockout of d, in r's language,
// to fill a message's {{.When}}.
func RetryText(r *http.Request, d time.Duration) string {
	l := Lang(r)
	switch {
	case d <= time.Minute:
		return l.T("retry.minute")
	case d < time.Hour:
		return l.T("retry.minutes", "Count", int(d.Round(time.Minute)/time.Minute))
	default:
		return l.T("retry.later")
	}
}

// Ago says how long before now t was, roughly, in l ("just now", "5
// minutes ago", "3 days ago"): a time that needs no time zone.
func Ago(l locale.Lang, t, now time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return l.T("ago.now")
	case d < time.Hour:
		return l.T("ago.minutes", "Count", int(d/time.Minute))
	case d < 24*time.Hour:
		return l.T("ago.hours", "Count", int(d/time.Hour))
	case d < 60*24*time.Hour:
		return l.T("ago.days", "Count", int(d/(24*time.Hour)))
	}
	return l.T("ago.on", "Date", l.Day(t))
}
