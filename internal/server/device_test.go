package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

// TestDeviceGrant pins the device authorization grant (RFC 8628) at the
// token endpoint, with the verification pages walked by a browser of the
// harness (browser_device_test.go walks them in Chromium).
func TestDeviceGrant(t *testing.T) {
	s := startServer(t, nil)
	rp := s.deviceClient(t)
	u := s.user(t, storage.RoleUser)
	t.Run("case=discovery names the endpoint and the grant", func(t *testing.T) {
		doc := getJSON(t, s.URL+"/.well-known/openid-configuration")
		if claim(doc, "device_authorization_endpoint") != s.URL+"/oauth2/device_authorization" || !contains(doc["grant_types_supported"], clients.GrantDeviceCode) {
			t.Fatalf("discovery: %v", doc)
		}
	})
	t.Run("case=approved gives verifiable tokens once", func(t *testing.T) { deviceApproved(t, s, rp, u) })
	t.Run("case=denied gives access_denied", func(t *testing.T) {
		d := rp.deviceAuthorize(t, "openid")
		last := s.answerDevice(t, s.browser(), d, u.Email, "deny")
		if !strings.Contains(last.Body, `data-device-done="denied"`) {
			t.Errorf("the page does not say the request was denied:\n%s", last.Body)
		}
		rp.mustPollError(t, d.DeviceCode, "access_denied")
	})
	t.Run("case=polling too fast slows the client down", func(t *testing.T) {
		d := rp.deviceAuthorize(t, "openid")
		rp.mustPollError(t, d.DeviceCode, "authorization_pending")
		for _, wait := range []string{"10", "15"} {
			body := rp.mustPollError(t, d.DeviceCode, "slow_down")
			if !strings.Contains(claim(body, "error_description"), wait+" seconds") {
				t.Errorf("slow_down does not name the interval of %s seconds: %v", wait, body)
			}
		}
	})
	t.Run("case=parallel polls after approval: one gets the tokens", func(t *testing.T) {
		d := rp.deviceAuthorize(t, "openid offline_access")
		s.answerDevice(t, s.browser(), d, u.Email, "allow")
		won := 0
		for _, r := range race(t, 6, func() *http.Request { return s.formRequest(t, "/oauth2/token", rp.auth(pollForm(d.DeviceCode))) }) {
			if r.status == http.StatusOK {
				won++
			} else if r.status != http.StatusBadRequest {
				t.Errorf("a losing poll: %d %s", r.status, r.raw)
			}
		}
		if won != 1 {
			t.Fatalf("%d polls got tokens, want exactly 1", won)
		}
	})
	t.Run("case=another client's device code", func(t *testing.T) { deviceOtherClient(t, s, rp, u) })
	t.Run("case=the client must be registered for the grant", func(t *testing.T) { deviceClientRules(t, s) })
}

// deviceApproved approves a request and checks the tokens: the access
// token for the API and userinfo, a refresh token that refreshes, an ID
// token go-oidc accepts; the device code then works no more.
func deviceApproved(t *testing.T, s *testServer, rp *relyingParty, u storage.User) {
	d := rp.deviceAuthorize(t, "openid email offline_access api:read")
	last := s.answerDevice(t, s.browser(), d, u.Email, "allow")
	if !strings.Contains(last.Body, `data-device-done="approved"`) || !strings.Contains(last.Body, "TV App") {
		t.Errorf("the page does not say the device was connected:\n%s", last.Body)
	}
	status, body := rp.poll(t, d.DeviceCode)
	if status != http.StatusOK {
		t.Fatalf("poll after approval: %s", describe(status, body))
	}
	_, at := s.verifyJWT(t, claim(body, "access_token"))
	if claim(at, "sub") != u.ID || claim(at, "client_id") != rp.client.ID || !contains(at["aud"], testAPI) || !contains(at["aud"], s.URL+"/userinfo") {
		t.Errorf("access token claims: %v", at)
	}
	idt, err := rp.idVerifier(t).Verify(t.Context(), claim(body, "id_token"))
	if err != nil {
		t.Fatalf("go-oidc rejects the ID token: %v", err)
	}
	if idt.Subject != u.ID || idt.VerifyAccessToken(claim(body, "access_token")) != nil {
		t.Errorf("ID token: sub %q, at_hash %q", idt.Subject, idt.AccessTokenHash)
	}
	if status, body := rp.refresh(t, claim(body, "refresh_token")); status != http.StatusOK || claim(body, "id_token") == "" {
		t.Errorf("refresh: %s", describe(status, body))
	}
	time.Sleep(5 * time.Second) // the interval: what follows is no slow_down
	rp.mustPollError(t, d.DeviceCode, "invalid_grant")
}

// deviceOtherClient: a device code works for its own client only, and
// another client's attempt leaves it alone.
func deviceOtherClient(t *testing.T, s *testServer, rp *relyingParty, u storage.User) {
	other := s.deviceClient(t)
	d := rp.deviceAuthorize(t, "openid")
	other.mustPollError(t, d.DeviceCode, "invalid_grant")
	s.answerDevice(t, s.browser(), d, u.Email, "allow")
	other.mustPollError(t, d.DeviceCode, "invalid_grant")
	if status, body := rp.poll(t, d.DeviceCode); status != http.StatusOK {
		t.Fatalf("its own client after another's attempts: %s", describe(status, body))
	}
	rp.mustPollError(t, "not-a-device-code", "invalid_grant")
}

// deviceClientRules: only clients registered for the grant get codes, for
// their own scopes; clients without the grant cannot poll.
func deviceClientRules(t *testing.T, s *testServer) {
	web := s.client(t, clients.Metadata{TokenEndpointAuthMethod: "client_secret_basic"})
	if status, body := s.post(t, "/oauth2/device_authorization", web.auth(url.Values{"scope": {"openid"}})); status != http.StatusBadRequest || oauthError(body) != "unauthorized_client" {
		t.Errorf("a client without the grant: %s", describe(status, body))
	}
	if status, body := web.poll(t, "x"); status != http.StatusBadRequest || oauthError(body) != "unauthorized_client" {
		t.Errorf("a client without the grant polls: %s", describe(status, body))
	}
	rp := s.deviceClient(t)
	if status, body := s.post(t, "/oauth2/device_authorization", rp.auth(url.Values{"scope": {"openid api:write"}})); status != http.StatusBadRequest || oauthError(body) != "invalid_scope" {
		t.Errorf("a scope the client may not have: %s", describe(status, body))
	}
	if status, body := s.post(t, "/oauth2/device_authorization", postOpt{form: url.Values{"scope": {"openid"}}}); status != http.StatusUnauthorized || oauthError(body) != "invalid_client" {
		t.Errorf("no client: %s", describe(status, body))
	}
}

// TestDeviceCodeExpires: after expires_in the client is told expired_token
// and the user a readable page.
func TestDeviceCodeExpires(t *testing.T) {
	s := startServer(t, func(c *Config) { c.DeviceCodeTTL = time.Second })
	rp := s.deviceClient(t)
	d := rp.deviceAuthorize(t, "openid")
	time.Sleep(1100 * time.Millisecond)
	rp.mustPollError(t, d.DeviceCode, "expired_token")
	p := s.browser().get(t, d.URIComplete)
	if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "expired") {
		t.Fatalf("an expired user code: %d\n%s", p.Status, p.Body)
	}
}

// TestDeviceUserCodePage pins what the verification page takes: the code
// typed in any case, with or without its dash; a used code gets a readable
// page; input that cannot be a code gets a 4xx page.
func TestDeviceUserCodePage(t *testing.T) {
	s := startServer(t, nil)
	rp := s.deviceClient(t)
	u := s.user(t, storage.RoleUser)
	t.Run("case=typed loosely", func(t *testing.T) {
		d := rp.deviceAuthorize(t, "openid")
		b := s.browser()
		entry := b.get(t, d.URI)
		typed := " " + strings.ToLower(strings.ReplaceAll(d.UserCode, "-", " - ")) + " "
		p := b.submit(t, entry.formWith(t, "user_code"), map[string]string{"user_code": typed}, [2]string{})
		if p.Location == nil || p.Location.Path != "/login" {
			t.Fatalf("a loosely typed code: %d %v\n%s", p.Status, p.Location, p.Body)
		}
	})
	t.Run("case=used", func(t *testing.T) {
		d := rp.deviceAuthorize(t, "openid")
		s.answerDevice(t, s.browser(), d, u.Email, "allow")
		p := s.browser().get(t, d.URIComplete)
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "already used") {
			t.Fatalf("a used user code: %d\n%s", p.Status, p.Body)
		}
	})
	t.Run("case=hostile input", func(t *testing.T) {
		b := s.browser()
		for _, in := range []string{strings.Repeat("B", 10000), "BCDF-GHJ0", "BCDF\x00GHJK", "ВCDF-GHJK", "<script>x</script>", "%00", "BCDFGHJKL"} {
			p := b.get(t, s.URL+"/device?user_code="+url.QueryEscape(in))
			if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, `name="user_code"`) {
				t.Errorf("user_code %.20q: %d\n%.300s", in, p.Status, p.Body)
			}
		}
	})
}

// TestDeviceUserCodeGuessingIsLimited: wrong user codes lock the address
// that typed them, and enough from everywhere lock the page for all; a
// right code does not forgive them.
func TestDeviceUserCodeGuessingIsLimited(t *testing.T) {
	s := startServer(t, func(c *Config) {
		c.TrustedProxies = []string{"127.0.0.0/8"}
		c.LoginLimitIP = 3
		c.UserCodeGuesses = 6
	})
	rp := s.deviceClient(t)
	guess := func(ip, code string) int {
		b := s.browser()
		b.forwardedFor = ip
		return b.get(t, s.URL+"/device?user_code="+code).Status
	}
	d := rp.deviceAuthorize(t, "openid")
	if got := guess("10.0.0.1", d.UserCode); got != http.StatusSeeOther {
		t.Fatalf("a right code: %d", got)
	}
	for i, want := range []int{http.StatusBadRequest, http.StatusBadRequest, http.StatusTooManyRequests, http.StatusTooManyRequests} {
		if got := guess("10.0.0.1", "BBBB-BBBB"); got != want {
			t.Fatalf("wrong code %d from one address: %d, want %d", i+1, got, want)
		}
	}
	if got := guess("10.0.0.1", d.UserCode); got != http.StatusTooManyRequests {
		t.Fatalf("a right code from a locked address: %d", got)
	}
	for i, ip := range []string{"10.0.1.1", "10.0.1.2", "10.0.1.3"} {
		want := http.StatusBadRequest
		if i == 2 {
			want = http.StatusTooManyRequests // the sixth wrong code of all
		}
		if got := guess(ip, "CCCC-CCCC"); got != want {
			t.Fatalf("wrong code from %s: %d, want %d", ip, got, want)
		}
	}
	if got := guess("10.0.2.1", d.UserCode); got != http.StatusTooManyRequests {
		t.Fatalf("a right code from a new address while the page is locked: %d", got)
	}
}
