package web

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxUserAgent bounds the User-Agent kept with sessions and audit events.
const maxUserAgent = 200

// UserAgent is the request's User-Agent as sessions and the audit log keep
// it: cut short, and valid UTF-8 (see Clip).
func UserAgent(r *http.Request) string { return Clip(r.UserAgent(), maxUserAgent) }

// Clip returns s as valid UTF-8 without NUL bytes, cut to at most n bytes
// at a character boundary. Header and form values may carry any bytes, and
// PostgreSQL refuses invalid UTF-8 and NUL in text: stored unclipped, such a
// value would fail the whole write it is part of.
func Clip(s string, n int) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// SetRetryAfter sets the Retry-After header to d in whole seconds.
func SetRetryAfter(h http.Header, d time.Duration) {
	h.Set("Retry-After", strconv.Itoa(int(d.Round(time.Second)/time.Second)))
}

// Busy answers a request that found no free password-hashing slot: 429,
// with a short Retry-After.
func (s *Site) Busy(w http.ResponseWriter, r *http.Request) {
	SetRetryAfter(w.Header(), 2*time.Second)
	s.Problem(w, r, http.StatusTooManyRequests, Problem{Heading: "problem.busy", Message: "error.busy"})
}
