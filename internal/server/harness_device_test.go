package server

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/latch-idp/latch/clients"
)

// deviceAuth is a device authorization response (RFC 8628 section 3.2).
type deviceAuth struct {
	DeviceCode, UserCode, URI, URIComplete string
	ExpiresIn, Interval                    float64
}

// deviceClient registers a public client for the device grant (with
// refresh tokens) that may ask for OpenID Connect's scopes and the test
// API's.
func (s *testServer) deviceClient(t testing.TB) *relyingParty {
	t.Helper()
	return s.client(t, clients.Metadata{
		ClientName: "TV App", TokenEndpointAuthMethod: "none",
		GrantTypes: []string{clients.GrantDeviceCode, clients.GrantRefreshToken},
		Scope:      "openid profile email offline_access api:read",
	})
}

// deviceAuthorize asks the device authorization endpoint for codes.
func (rp *relyingParty) deviceAuthorize(t testing.TB, scope string) deviceAuth {
	t.Helper()
	status, body := rp.s.post(t, "/oauth2/device_authorization", rp.auth(url.Values{"scope": {scope}}))
	if status != http.StatusOK {
		t.Fatalf("device authorization: %s", describe(status, body))
	}
	d := deviceAuth{DeviceCode: claim(body, "device_code"), UserCode: claim(body, "user_code"),
		URI: claim(body, "verification_uri"), URIComplete: claim(body, "verification_uri_complete")}
	d.ExpiresIn, _ = body["expires_in"].(float64)
	d.Interval, _ = body["interval"].(float64)
	if d.DeviceCode == "" || d.UserCode == "" || d.URI != rp.s.URL+"/device" || d.Interval != 5 {
		t.Fatalf("device authorization response: %v", body)
	}
	return d
}

// pollForm is the device access token request of a device code.
func pollForm(deviceCode string) url.Values {
	return url.Values{"grant_type": {clients.GrantDeviceCode}, "device_code": {deviceCode}}
}

// poll asks the token endpoint once for the device code's tokens.
func (rp *relyingParty) poll(t testing.TB, deviceCode string) (int, map[string]any) {
	t.Helper()
	return rp.tokenRequest(t, pollForm(deviceCode))
}

// mustPollError polls once and checks the RFC 6749 error.
func (rp *relyingParty) mustPollError(t testing.TB, deviceCode, want string) map[string]any {
	t.Helper()
	status, body := rp.poll(t, deviceCode)
	if status != http.StatusBadRequest || oauthError(body) != want {
		t.Fatalf("poll: %s, want 400 %s", describe(status, body), want)
	}
	return body
}

// approveDevice walks the verification page in b: the complete URI, the
// sign-in of u, and the consent page answered with decision; it returns the
// last page.
func (s *testServer) answerDevice(t testing.TB, b *browser, d deviceAuth, email, decision string) *page {
	t.Helper()
	res := b.authorize(t, d.URIComplete, flowSteps{Email: email, Password: testPassword, Consent: decision})
	if !res.SawConsent || res.Last.Status != http.StatusOK {
		t.Fatalf("device verification stopped at %s (%d):\n%s", res.Last.URL, res.Last.Status, res.Last.Body)
	}
	return res.Last
}
