package web

import "net/http"

// CSRFValid reports whether r carries a valid CSRF token, for handlers that
// take posts both from other sites (which carry no token) and from latch's
// own forms, such as RP-initiated logout and its confirmation.
func (s *Site) CSRFValid(r *http.Request) bool { return s.csrf.Valid(r) }

// BrowserState is a value only this browser holds (its CSRF cookie, which
// scripts cannot read), for binding short-lived state to the browser that
// began it; "" when it has none.
func (s *Site) BrowserState(r *http.Request) string {
	ck, err := r.Cookie(s.csrf.CookieName())
	if err != nil || len(ck.Value) < 32 {
		return ""
	}
	return ck.Value
}
