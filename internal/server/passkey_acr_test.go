package server

import (
	"slices"
	"strings"
	"testing"

	"github.com/latch-idp/latch/clients"
)

// Discovery lists the passkey acr values while passkeys are on, and no
// acr value latch could not reach while they are off (an issuer on an IP
// address).
func TestDiscoveryListsACRValuesWithPasskeysOn(t *testing.T) {
	on := discovery(t, startServer(t, func(c *Config) { c.Issuer = issuerLocalhost }))
	if got := on["acr_values_supported"]; !slices.Equal(toStrings(got), []string{"phr", "phrh"}) {
		t.Errorf("acr_values_supported = %v, want [phr phrh]", got)
	}
	if !slices.Contains(toStrings(on["claims_supported"]), "acr") {
		t.Errorf("claims_supported lacks acr: %v", on["claims_supported"])
	}
	off := discovery(t, startServer(t, nil))
	if _, ok := off["acr_values_supported"]; ok {
		t.Errorf("acr_values_supported advertised with passkeys off: %v", off["acr_values_supported"])
	}
}

// A client registered with minimum_acr_value phr gets no sign-in by
// password alone: its flow stops at the second step, which asks for the
// passkey the account lacks; prompt=none with a password session is
// login_required.
func TestClientMinimumACRAsksForAPasskey(t *testing.T) {
	s := startServer(t, func(c *Config) { c.Issuer = issuerLocalhost })
	u := s.user(t, "user")
	strict := s.client(t, clients.Metadata{
		ClientName: "Strict App", RedirectURIs: []string{"https://strict.example/cb"}, MinimumACRValue: "phr",
		Scope: "openid", TokenEndpointAuthMethod: "client_secret_basic",
	})
	b := s.browser()
	ar := strict.authURL([]string{"openid"}, nil)
	res := b.authorize(t, ar.URL, flowSteps{Email: u.Email, Password: testPassword, Consent: "allow"})
	if res.Callback != nil || res.Last.URL.Path != "/login/code" || !strings.Contains(res.Last.Body, "has none yet") {
		t.Fatalf("a password-only sign-in to a client requiring a passkey ended at %v (%s %d)", res.Callback, res.Last.URL, res.Last.Status)
	}

	lax := s.client(t, clients.Metadata{
		ClientName: "Lax App", RedirectURIs: []string{"https://lax.example/cb"}, FirstParty: true,
		Scope: "openid", TokenEndpointAuthMethod: "client_secret_basic",
	})
	tok := lax.login(t, b, u, []string{"openid"}, nil)
	if _, ok := tok.Claims["acr"]; ok {
		t.Errorf("a password sign-in's ID token carries acr %v", tok.Claims["acr"])
	}
	ar = strict.authURL([]string{"openid"}, map[string]string{"prompt": "none"})
	q := b.authorize(t, ar.URL, flowSteps{}).callbackQuery(t, s, ar.State)
	if q.Get("error") != "login_required" {
		t.Fatalf("prompt=none with a password session at a client requiring a passkey: %v, want login_required", q)
	}
	// acr_values ask for it the same way.
	ar = lax.authURL([]string{"openid"}, map[string]string{"prompt": "none", "acr_values": "phrh phr"})
	if q := b.authorize(t, ar.URL, flowSteps{}).callbackQuery(t, s, ar.State); q.Get("error") != "login_required" {
		t.Fatalf("prompt=none with acr_values phr: %v, want login_required", q)
	}
}
