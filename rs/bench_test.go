package rs

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// BenchmarkRequireUser is a verified request through the middleware with
// the keys cached: a token seen before (the common case: a client calls
// with one token until it expires) and, for the signature's cost, a token
// verified from scratch each time.
func BenchmarkRequireUser(b *testing.B) {
	is := newIssuer(b)
	v, err := New(b.Context(), Config{Issuer: is.URL, Audience: testAPI})
	if err != nil {
		b.Fatal(err)
	}
	h := v.RequireUser(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for _, alg := range []struct {
		kid string
		alg jose.SignatureAlgorithm
	}{{"k-rsa", jose.RS256}, {"k-ec", jose.ES256}} {
		tok := is.sign(b, alg.kid, alg.alg, "at+jwt", is.claims())
		b.Run(string(alg.alg)+"/seen-before", func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code)
				}
			}
		})
		b.Run(string(alg.alg)+"/signature", func(b *testing.B) {
			for b.Loop() {
				if _, err := v.verifyJWT(b.Context(), tok, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
