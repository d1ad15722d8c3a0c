package web

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"

	"github.com/latch-idp/latch/secret"
)

// CSRFField is the form field that carries the token.
const CSRFField = "csrf_token"

const csrfPurpose = "latch csrf v1"

// CSRF implements the double-submit pattern with a keyed token: the browser
// holds a random value in a host-only cookie, and every form carries the
// keyed hash of that value under the system secret. A forger can neither
// read the cookie nor compute the hash, and cannot plant a cookie on a
// __Host- name from another subdomain.
type CSRF struct {
	box    *secret.Box
	secure bool
}

// CookieName is the CSRF cookie's name.
func (c *CSRF) CookieName() string {
	if c.secure {
		return "__Host-latch_csrf"
	}
	return "latch_csrf"
}

// Token returns the token for the forms of this response, setting the
// cookie when the request carries none. It must be called before the
// response's header is written, once per response.
func (c *CSRF) Token(w http.ResponseWriter, r *http.Request) string {
	value := ""
	if ck, err := r.Cookie(c.CookieName()); err == nil && len(ck.Value) >= 32 {
		value = ck.Value
	} else {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		value = base64.RawURLEncoding.EncodeToString(b)
		http.SetCookie(w, &http.Cookie{
			Name: c.CookieName(), Value: value, Path: "/",
			HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode,
		})
	}
	return c.tokenFor(value)
}

func (c *CSRF) tokenFor(value string) string {
	return base64.RawURLEncoding.EncodeToString(c.box.Hash(csrfPurpose, []byte(value)))
}

// Valid reports whether the request's form token matches its cookie, in
// constant time.
func (c *CSRF) Valid(r *http.Request) bool {
	ck, err := r.Cookie(c.CookieName())
	if err != nil || len(ck.Value) < 32 {
		return false
	}
	tok, err := base64.RawURLEncoding.DecodeString(r.PostFormValue(CSRFField))
	if err != nil || len(tok) == 0 {
		return false
	}
	return c.box.Verify(csrfPurpose, []byte(ck.Value), tok)
}
