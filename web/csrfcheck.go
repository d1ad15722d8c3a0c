package web

import "net/http"

// CSRFValid reports whether r carries a valid CSRF token, for handlers that
// take posts both from other sites (which carry no token) and from latch's
// own forms, such as RP-initiated logout and its confirmation.
func (s *Site) CSRFValid(r *http.Request) bool { return s.csrf.Valid(r) }
