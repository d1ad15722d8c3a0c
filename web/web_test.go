package web_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/latch-idp/latch/brand"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/web"
)

func newSite(t *testing.T, issuer string) *web.Site {
	t.Helper()
	box, err := secret.New([]byte("web test system secret of at least 32 bytes"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.NewSite(issuer, box, nil, brand.Look{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHeadersAndCookies(t *testing.T) {
	for _, tc := range []struct {
		issuer     string
		hsts       bool
		cookieName string
	}{
		{"https://id.example.com", true, "__Host-latch_csrf"},
		{"http://127.0.0.1:8080", false, "latch_csrf"},
	} {
		t.Run("case="+tc.issuer, func(t *testing.T) {
			s := newSite(t, tc.issuer)
			h := s.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s.Error(w, r, http.StatusTeapot, "short and stout")
			}))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
			if rec.Code != http.StatusTeapot || !strings.Contains(rec.Body.String(), "short and stout") {
				t.Fatalf("error page: %d %s", rec.Code, rec.Body)
			}
			if got := rec.Header().Get("Strict-Transport-Security") != ""; got != tc.hsts {
				t.Errorf("HSTS present = %v, want %v", got, tc.hsts)
			}
			if !strings.Contains(rec.Header().Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Error("no frame-ancestors")
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	s := newSite(t, "https://id.example.com")
	pages, err := s.Pages("web", testPages, "testdata/form.html")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /form", s.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.Render(w, r, http.StatusOK, "testdata/form.html", "Form", nil)
	})))
	mux.Handle("POST /form", s.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		web.Redirect(w, r, "/done")
	})))

	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/form", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != "__Host-latch_csrf" || !cookies[0].Secure || !cookies[0].HttpOnly || cookies[0].Path != "/" {
		t.Fatalf("cookies %+v", cookies)
	}
	token := between(rec.Body.String(), `name="csrf_token" value="`, `"`)
	post := func(cookie *http.Cookie, tok string) int {
		form := url.Values{}
		if tok != "" {
			form.Set(web.CSRFField, tok)
		}
		req := httptest.NewRequest(http.MethodPost, "/form", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec.Code
	}
	for name, tc := range map[string]struct {
		cookie *http.Cookie
		token  string
		want   int
	}{
		"right token":    {cookies[0], token, http.StatusSeeOther},
		"missing token":  {cookies[0], "", http.StatusForbidden},
		"wrong token":    {cookies[0], token[:len(token)-2] + "AA", http.StatusForbidden},
		"no cookie":      {nil, token, http.StatusForbidden},
		"another cookie": {&http.Cookie{Name: "__Host-latch_csrf", Value: strings.Repeat("a", 43)}, token, http.StatusForbidden},
	} {
		if got := post(tc.cookie, tc.token); got != tc.want {
			t.Errorf("case=%s: %d, want %d", name, got, tc.want)
		}
	}

	// A body beyond the limit is refused, not read.
	big := strings.NewReader("csrf_token=" + token + "&x=" + strings.Repeat("a", web.MaxFormBytes))
	req := httptest.NewRequest(http.MethodPost, "/form", big)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(cookies[0])
	rec = httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("an oversized body got %d, want 413", rec.Code)
	}
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	return s[:strings.Index(s, end)]
}

func TestLocalPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/account": true, "/account?x=1": true, "/": true,
		"": false, "account": false, "//evil.example": false, "/\\evil.example": false,
		"https://evil.example": false, "javascript:alert(1)": false, "/a\r\nSet-Cookie: x": false,
	} {
		if got := web.LocalPath(p); got != want {
			t.Errorf("LocalPath(%q) = %v, want %v", p, got, want)
		}
	}
}

func TestClientIPIgnoresForwardingHeaders(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "192.0.2.7:5555"
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	r.Header.Set("X-Real-IP", "203.0.113.9")
	if got := web.ClientIP(r); got != "192.0.2.7" {
		t.Errorf("ClientIP = %q", got)
	}
}

func TestClipKeepsValidUTF8WithinBound(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"a\x00b", 10, "ab"},
		{"a\xffb", 10, "a\uFFFDb"},
		{"ééé", 5, "éé"}, // 6 bytes: the cut falls inside the third é
		{"abc", 0, ""},
	} {
		if got := web.Clip(tc.in, tc.n); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

// errorPage renders an error page through s with show and returns it.
func errorPage(t *testing.T, show func(s *web.Site, w http.ResponseWriter, r *http.Request)) *httptest.ResponseRecorder {
	t.Helper()
	s := newSite(t, "https://id.example.com")
	rec := httptest.NewRecorder()
	s.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { show(s, w, r) })).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	return rec
}

func TestErrorPagesSpeakToPeople(t *testing.T) {
	t.Run("case=a problem shows its heading, message and way on", func(t *testing.T) {
		rec := errorPage(t, func(s *web.Site, w http.ResponseWriter, r *http.Request) {
			p := web.ProblemExpiredLink
			p.LinkText, p.LinkHref = "Ask for a new link", "/forgot"
			s.Problem(w, r, http.StatusBadRequest, p)
		})
		body := rec.Body.String()
		for _, want := range []string{"<title>This link has expired", "<h1>This link has expired</h1>", `<a href="/forgot">Ask for a new link</a>`} {
			if !strings.Contains(body, want) {
				t.Errorf("page lacks %q:\n%s", want, body)
			}
		}
		if rec.Code != http.StatusBadRequest || strings.Contains(body, "Bad Request") {
			t.Errorf("%d, headed by the status:\n%s", rec.Code, body)
		}
	})
	t.Run("case=a misconfigured application is named as such, with the detail for its developer", func(t *testing.T) {
		rec := errorPage(t, func(s *web.Site, w http.ResponseWriter, r *http.Request) {
			s.Problem(w, r, http.StatusBadRequest, web.Misconfigured("The redirect_uri is not registered."))
		})
		body := rec.Body.String()
		if !strings.Contains(body, "This application is misconfigured") || !strings.Contains(body, "Tell its developer") || !strings.Contains(body, "redirect_uri is not registered") {
			t.Errorf("page:\n%s", body)
		}
	})
	t.Run("case=a plain error gets a heading for people, never the status text", func(t *testing.T) {
		for status, heading := range map[int]string{http.StatusNotFound: "Page not found", http.StatusInternalServerError: "Something went wrong", http.StatusServiceUnavailable: "Try again in a moment"} {
			body := errorPage(t, func(s *web.Site, w http.ResponseWriter, r *http.Request) { s.Error(w, r, status, "details") }).Body.String()
			if !strings.Contains(body, "<h1>"+heading+"</h1>") || strings.Contains(body, http.StatusText(status)+"<") {
				t.Errorf("%d:\n%s", status, body)
			}
		}
	})
}
