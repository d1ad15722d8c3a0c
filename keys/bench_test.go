package keys

import (
	"net/http"
	"net/http/httptest"
	"testing"

	fjwt "github.com/ory/fosite/token/jwt"
)

// BenchmarkSign is the cost of minting a token: claims to a signed JWT,
// as fosite asks the signer for every access and ID token.
func BenchmarkSign(b *testing.B) {
	for _, alg := range bothAlgs {
		b.Run(alg, func(b *testing.B) {
			e := newEnv(b)
			m := e.manager(Options{Algorithms: bothAlgs})
			if err := m.Init(b.Context()); err != nil {
				b.Fatal(err)
			}
			s := m.Signer(alg)
			claims := e.claims()
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := s.Generate(b.Context(), claims, fjwt.NewHeaders()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkJWKS is the JWKS endpoint's own work for one request.
func BenchmarkJWKS(b *testing.B) {
	e := newEnv(b)
	m := e.manager(Options{Algorithms: bothAlgs})
	if err := m.Init(b.Context()); err != nil {
		b.Fatal(err)
	}
	h := &Handler{Keys: m}
	req := httptest.NewRequest(http.MethodGet, JWKSPath, nil)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatal(rec.Code)
		}
	}
}
