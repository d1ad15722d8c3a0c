package backchannel

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	fjwt "github.com/ory/fosite/token/jwt"
)

// fakeSigner stands in for the key manager: these tests are about where a
// token goes, not how it is signed (internal/server's tests verify real
// logout tokens).
type fakeSigner struct{}

func (fakeSigner) Generate(context.Context, fjwt.MapClaims, fjwt.Mapper) (string, string, error) {
	return "h.p.s", "s", nil
}

// TestDelivererStaysOutOfLatchsNetwork pins that a receiver on a loopback
// address is never reached unless private addresses are allowed, and that
// the refusal says which setting allows it (publicnet owns the address
// rule; publicnet's tests pin it address by address).
func TestDelivererStaysOutOfLatchsNetwork(t *testing.T) {
	var hits atomic.Int32
	rc := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(rc.Close)
	job := Job{ClientID: "app", URI: rc.URL + "/logout", JTI: "j"}

	err := NewDeliverer("https://latch.example", fakeSigner{}, nil, false).Deliver(t.Context(), job)
	if err == nil || !strings.Contains(err.Error(), "LATCH_BACKCHANNEL_ALLOW_PRIVATE") || strings.Contains(err.Error(), "/logout") {
		t.Errorf("delivery to loopback: %v, want a refusal naming the setting and not the URL", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the loopback receiver was reached")
	}
	if err := NewDeliverer("https://latch.example", fakeSigner{}, nil, true).Deliver(t.Context(), job); err != nil || hits.Load() != 1 {
		t.Errorf("delivery with private addresses allowed: %v, %d hits", err, hits.Load())
	}
}

// namedSigner signs with a fixed "signature" naming it.
type namedSigner string

func (n namedSigner) Generate(context.Context, fjwt.MapClaims, fjwt.Mapper) (string, string, error) {
	return "h.p." + string(n), string(n), nil
}

// TestLogoutTokenAlg: a logout token is signed as the client's ID tokens
// are: with the default signer, or with the one of the algorithm the client
// registered; an algorithm without a signer is an error, not the default.
func TestLogoutTokenAlg(t *testing.T) {
	d := NewDeliverer("https://latch.example", namedSigner("default"), map[string]Signer{"ES256": namedSigner("es256")}, false)
	for alg, want := range map[string]string{"": "h.p.default", "ES256": "h.p.es256"} {
		if tok, err := d.Token(t.Context(), Job{ClientID: "app", Alg: alg}); err != nil || tok != want {
			t.Errorf("Token(alg %q) = %q, %v; want %q", alg, tok, err, want)
		}
	}
	if tok, err := d.Token(t.Context(), Job{ClientID: "app", Alg: "PS256"}); err == nil {
		t.Errorf("Token(alg PS256) = %q, want an error", tok)
	}
}
