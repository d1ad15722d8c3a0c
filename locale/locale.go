package locale

import (
	"context"
	"embed"
	"fmt"
	"html"
	"html/template"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
)

//go:embed messages/*.toml
var messageFiles embed.FS

// Default is the language of the catalog every other one falls back to.
const Default = "en"

// shipped are the languages latch ships, Default first.
var shipped = []language.Tag{language.English, language.German}

var (
	bundle  = load()
	matcher = language.NewMatcher(shipped)
	langs   = func() map[string]Lang {
		m := make(map[string]Lang, len(shipped))
		for _, tag := range shipped {
			code := tag.String()
			m[code] = Lang{code: code, loc: i18n.NewLocalizer(bundle, code, Default)}
		}
		return m
	}()
)

// load parses the embedded catalogs; they are part of the binary, so an
// error is a build defect and every test run catches it.
func load() *i18n.Bundle {
	b := i18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("toml", toml.Unmarshal)
	for _, tag := range shipped {
		if _, err := b.LoadMessageFileFS(messageFiles, "messages/"+tag.String()+".toml"); err != nil {
			panic(fmt.Sprintf("locale: %v", err))
		}
	}
	return b
}

// Codes lists the shipped languages' codes ("en", "de"), Default first.
func Codes() []string {
	out := make([]string, len(shipped))
	for i, tag := range shipped {
		out[i] = tag.String()
	}
	return out
}

// Lang is one shipped language. The zero Lang is Default.
type Lang struct {
	code string
	loc  *i18n.Localizer
}

// Get returns the shipped language code names, or Default.
func Get(code string) Lang {
	if l, ok := langs[code]; ok {
		return l
	}
	return langs[Default]
}

// All returns every shipped language, Default first.
func All() []Lang {
	out := make([]Lang, 0, len(shipped))
	for _, code := range Codes() {
		out = append(out, langs[code])
	}
	return out
}

// Code is l's BCP 47 code, as <html lang> and Content-Language want it.
func (l Lang) Code() string {
	if l.loc == nil {
		return Default
	}
	return l.code
}

// T is the message id in l, filled with args: pairs of a name and a
// value ("Email", addr) the message refers to as {{.Email}}; a value
// named Count also chooses the plural form. A message l lacks is taken
// from Default; one Default lacks too is shown as its id, and the tests
// that check every id in code and templates keep that from shipping.
func (l Lang) T(id string, args ...any) string {
	if l.loc == nil {
		l = langs[Default]
	}
	cfg := &i18n.LocalizeConfig{MessageID: id}
	if len(args) > 0 {
		data := make(map[string]any, len(args)/2)
		for i := 0; i+1 < len(args); i += 2 {
			name, _ := args[i].(string)
			data[name] = args[i+1]
			if name == "Count" {
				cfg.PluralCount = args[i+1]
			}
		}
		cfg.TemplateData = data
	}
	s, err := l.loc.Localize(cfg)
	if err != nil {
		return id
	}
	return s
}

// HTML is T for a message that carries markup of its own (<strong>):
// the catalogs are part of the binary and trusted, while every argument
// is escaped first.
func (l Lang) HTML(id string, args ...any) template.HTML {
	escaped := slices.Clone(args)
	for i := 1; i < len(escaped); i += 2 {
		if s, ok := escaped[i].(string); ok {
			escaped[i] = html.EscapeString(s)
		}
	}
	return template.HTML(l.T(id, escaped...)) // #nosec: catalog text, escaped arguments
}

// Date is t as a date and time in l, in UTC, as pages and emails show it.
func (l Lang) Date(t time.Time) string {
	t = t.UTC()
	return l.T("date.time", "Day", t.Day(), "Month", l.T(fmt.Sprintf("date.month.%d", t.Month())), "Year", t.Year(), "Time", t.Format("15:04"))
}

// Day is t as a date without the time, in l.
func (l Lang) Day(t time.Time) string {
	t = t.UTC()
	return l.T("date.day", "Day", t.Day(), "Month", l.T(fmt.Sprintf("date.month.%d", t.Month())), "Year", t.Year())
}

// Match picks the shipped language for the preferences given, most
// important first: each a list of language tags as ui_locales (spaces)
// or Accept-Language (commas, with q-values) carries them. The first
// preference that names a shipped language decides; ok is false when
// none does.
func Match(prefs ...string) (Lang, bool) {
	for _, p := range prefs {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		var tags []language.Tag
		if strings.ContainsAny(p, ",;") {
			tags, _, _ = language.ParseAcceptLanguage(p)
		} else {
			for _, f := range strings.Fields(p) {
				if tag, err := language.Parse(f); err == nil {
					tags = append(tags, tag)
				}
			}
		}
		if len(tags) == 0 {
			continue
		}
		if _, i, conf := matcher.Match(tags...); conf != language.No {
			return langs[shipped[i].String()], true
		}
	}
	return langs[Default], false
}

type ctxKey struct{}

// WithLang returns ctx carrying l: the language of the request, for what
// the request causes later (an email written by another package).
func WithLang(ctx context.Context, l Lang) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// FromContext is the language ctx carries, if any.
func FromContext(ctx context.Context) (Lang, bool) {
	l, ok := ctx.Value(ctxKey{}).(Lang)
	return l, ok
}
