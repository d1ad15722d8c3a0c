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

	err := NewDeliverer("https://latch.example", fakeSigner{}, false).Deliver(t.Context(), job)
	if err == nil || !strings.Contains(err.Error(), "LATCH_BACKCHANNEL_ALLOW_PRIVATE") || strings.Contains(err.Error(), "/logout") {
		t.Errorf("delivery to loopback: %v, want a refusal naming the setting and not the URL", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the loopback receiver was reached")
	}
	if err := NewDeliverer("https://latch.example", fakeSigner{}, true).Deliver(t.Context(), job); err != nil || hits.Load() != 1 {
		t.Errorf("delivery with private addresses allowed: %v, %d hits", err, hits.Load())
	}
}
