package server

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/net/html"
)

// browser is a user agent with a cookie jar that does not follow
// redirects, so every step is seen.
type browser struct {
	s *testServer
	c *http.Client
	// forwardedFor, when set, is sent as X-Forwarded-For, as a reverse
	// proxy would.
	forwardedFor string
	// languages, when set, is sent as Accept-Language.
	languages string
}

func (s *testServer) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{s: s, c: &http.Client{
		Jar:           jar,
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// page is a read response.
type page struct {
	URL      *url.URL // of the request
	Status   int
	Header   http.Header
	Body     string
	Location *url.URL // resolved; nil without one
}

func (b *browser) do(t testing.TB, req *http.Request) *page {
	t.Helper()
	if b.forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", b.forwardedFor)
	}
	if b.languages != "" {
		req.Header.Set("Accept-Language", b.languages)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := &page{URL: req.URL, Status: resp.StatusCode, Header: resp.Header, Body: string(body)}
	if loc := resp.Header.Get("Location"); loc != "" {
		p.Location, err = req.URL.Parse(loc)
		if err != nil {
			t.Fatalf("bad Location %q: %v", loc, err)
		}
	}
	if p.Status >= 500 {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL, p.Status, body)
	}
	return p
}

func (b *browser) get(t testing.TB, u string) *page {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b.do(t, req)
}

func (b *browser) post(t testing.TB, u string, form url.Values) *page {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(t, req)
}

// form is an HTML form as a browser would submit it.
type form struct {
	Action  *url.URL
	Fields  url.Values  // inputs with a name and value (hidden ones among them)
	Buttons [][2]string // submit buttons' name and value
}

// forms parses the forms of p.
func (p *page) forms(t testing.TB) []form {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(p.Body))
	if err != nil {
		t.Fatalf("parse %s: %v", p.URL, err)
	}
	var out []form
	var cur *form
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			attr := func(k string) string {
				for _, a := range n.Attr {
					if a.Key == k {
						return a.Val
					}
				}
				return ""
			}
			switch n.Data {
			case "form":
				action, err := p.URL.Parse(attr("action"))
				if err != nil {
					t.Fatalf("form action %q: %v", attr("action"), err)
				}
				out = append(out, form{Action: action, Fields: url.Values{}})
				cur = &out[len(out)-1]
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
				cur = nil
				return
			case "input":
				if cur != nil && attr("name") != "" {
					cur.Fields.Set(attr("name"), attr("value"))
				}
			case "button":
				if cur != nil && attr("name") != "" {
					cur.Buttons = append(cur.Buttons, [2]string{attr("name"), attr("value")})
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

// formWith returns p's form that has an input or button named name.
func (p *page) formWith(t testing.TB, name string) form {
	t.Helper()
	for _, f := range p.forms(t) {
		if _, ok := f.Fields[name]; ok {
			return f
		}
		for _, b := range f.Buttons {
			if b[0] == name {
				return f
			}
		}
	}
	t.Fatalf("%s (%d) has no form with %q:\n%s", p.URL, p.Status, name, p.Body)
	return form{}
}

// hasField reports whether a form of p has an input named name.
func (p *page) hasField(t testing.TB, name string) bool {
	t.Helper()
	for _, f := range p.forms(t) {
		if _, ok := f.Fields[name]; ok {
			return true
		}
	}
	return false
}

// submit posts f with values set and, when button is given, that button's
// name=value.
func (b *browser) submit(t testing.TB, f form, values map[string]string, button [2]string) *page {
	t.Helper()
	v := url.Values{}
	for k, vs := range f.Fields {
		v[k] = vs
	}
	for k, val := range values {
		v.Set(k, val)
	}
	if button[0] != "" {
		found := false
		for _, fb := range f.Buttons {
			found = found || fb == button
		}
		if !found {
			t.Fatalf("form %s has no button %s=%s", f.Action, button[0], button[1])
		}
		v.Set(button[0], button[1])
	}
	return b.post(t, f.Action.String(), v)
}

// flowSteps say what the user does on latch's pages. An empty Email stops
// at the login page; an empty Consent stops at the consent page.
type flowSteps struct {
	Email, Password string
	TOTPSecret      string // answers the second step with a current code
	Consent         string // "allow" or "deny"
}

// flowResult is where an authorization ended.
type flowResult struct {
	// Callback is the redirect to the client, nil when the flow stopped on
	// a latch page.
	Callback *url.URL
	// Last is the last response from latch.
	Last       *page
	SawLogin   bool
	SawConsent bool
}

// authorize starts at authURL and follows the flow through the login and
// consent pages until latch redirects to another host (the client) or
// stops on a page.
func (b *browser) authorize(t testing.TB, authURL string, steps flowSteps) flowResult {
	t.Helper()
	issuer, _ := url.Parse(b.s.URL)
	var res flowResult
	p := b.get(t, authURL)
	for range 20 {
		res.Last = p
		switch {
		case p.Location != nil && p.Status >= 300 && p.Status < 400:
			if p.Location.Host != issuer.Host {
				res.Callback = p.Location
				return res
			}
			p = b.get(t, p.Location.String())
		case p.Status == http.StatusOK && p.URL.Path == "/login":
			res.SawLogin = true
			if steps.Email == "" {
				return res
			}
			f := p.formWith(t, "password")
			p = b.submit(t, f, map[string]string{"email": steps.Email, "password": steps.Password}, [2]string{})
			steps.Email = "" // a second login page means the login failed
		case p.Status == http.StatusOK && steps.TOTPSecret != "" && p.hasField(t, "code"):
			code, err := totp.GenerateCode(steps.TOTPSecret, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			p = b.submit(t, p.formWith(t, "code"), map[string]string{"code": code}, [2]string{})
			steps.TOTPSecret = ""
		case p.Status == http.StatusOK && p.URL.Path == "/consent":
			res.SawConsent = true
			if steps.Consent == "" {
				return res
			}
			f := p.formWith(t, "decision")
			p = b.submit(t, f, nil, [2]string{"decision", steps.Consent})
			steps.Consent = ""
		default:
			return res
		}
	}
	t.Fatalf("authorization did not finish after 20 steps; last %s %d", p.URL, p.Status)
	return res
}

// code returns the authorization code of a successful flow after checking
// the callback's state and iss.
func (r flowResult) code(t testing.TB, s *testServer, state string) string {
	t.Helper()
	q := r.callbackQuery(t, s, state)
	if q.Get("error") != "" {
		t.Fatalf("authorization failed: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	code := q.Get("code")
	if code == "" {
		t.Fatalf("callback without code: %s", r.Callback)
	}
	return code
}

// callbackQuery returns the callback's parameters after checking state and
// iss (RFC 9207), for successes and errors alike.
func (r flowResult) callbackQuery(t testing.TB, s *testServer, state string) url.Values {
	t.Helper()
	if r.Callback == nil {
		t.Fatalf("no redirect to the client; stopped at %s (%d):\n%s", r.Last.URL, r.Last.Status, r.Last.Body)
	}
	q := r.Callback.Query()
	if got := q.Get("state"); got != state {
		t.Errorf("callback state = %q, want %q", got, state)
	}
	if got := q.Get("iss"); got != s.URL {
		t.Errorf("callback iss = %q, want %q (RFC 9207)", got, s.URL)
	}
	return q
}
