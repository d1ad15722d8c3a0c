package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/oauth2"

	"github.com/latch-idp/latch/web/webtest"
)

// TestBrowserDeviceFlow runs the device authorization grant as a TV app
// and its user would: golang.org/x/oauth2's device client asks for codes
// and polls the token endpoint, while in Chromium the user opens the
// verification URI, mistypes the code, types it again, signs in with the
// password and a TOTP code, reads on the consent page that a device asks
// (with the code) and allows it; the client then gets tokens that verify.
// Each device page passes axe-core's accessibility checks.
func TestBrowserDeviceFlow(t *testing.T) {
	s := startServer(t, nil)
	u := s.user(t, "user")
	totpSecret := s.enableTOTP(t, u.ID)
	rp := s.deviceClient(t)
	conf := &oauth2.Config{ClientID: rp.client.ID, Scopes: []string{"openid", "email", "offline_access"},
		Endpoint: oauth2.Endpoint{DeviceAuthURL: s.URL + "/oauth2/device_authorization", TokenURL: s.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
	da, err := conf.DeviceAuth(t.Context())
	if err != nil {
		t.Fatalf("device authorization: %v", err)
	}
	type result struct {
		tok *oauth2.Token
		err error
	}
	polled := make(chan result, 1)
	go func() {
		tok, err := conf.DeviceAccessToken(t.Context(), da)
		polled <- result{tok, err}
	}()

	ctx := webtest.Browser(t)
	const wait = 20 * time.Second
	webtest.Do(ctx, t, wait, chromedp.Navigate(da.VerificationURI), chromedp.WaitVisible(css(`input[name=user_code]`)))
	webtest.Accessible(ctx, t, "device code entry")
	webtest.Do(ctx, t, wait,
		chromedp.SendKeys(css(`input[name=user_code]`), "BBBB-BBBB"),
		chromedp.Click(css(`button[type=submit]`)),
		chromedp.WaitVisible(css(`#user-code-error`)),
	)
	webtest.Accessible(ctx, t, "device code entry after a wrong code")
	webtest.Do(ctx, t, wait,
		chromedp.Clear(css(`input[name=user_code]`)),
		chromedp.SendKeys(css(`input[name=user_code]`), strings.ToLower(da.UserCode)),
		chromedp.Click(css(`button[type=submit]`)),
		signInWithCode(t, u.Email, totpSecret),
		chromedp.WaitVisible(css(`button[name=decision][value=allow]`)),
	)
	page := webtest.Get(ctx, t, wait, chromedp.Text(css("main")))
	for _, want := range []string{"A device wants to access your account", da.UserCode, "TV App", "Only allow it if you started this yourself"} {
		if !strings.Contains(page, want) {
			t.Errorf("the device consent page does not say %q:\n%s", want, page)
		}
	}
	webtest.Accessible(ctx, t, "device consent")
	webtest.Do(ctx, t, wait, chromedp.Click(css(`button[name=decision][value=allow]`)), chromedp.WaitVisible(css(`[data-device-done=approved]`)))
	webtest.Accessible(ctx, t, "device connected")

	var res result
	select {
	case res = <-polled:
	case <-time.After(30 * time.Second):
		t.Fatal("the device client got no tokens")
	}
	if res.err != nil {
		t.Fatalf("device client: %v", res.err)
	}
	checkDeviceTokens(t, s, rp, res.tok, u.ID)
}

// checkDeviceTokens verifies what the device client got: an access token
// for the user, a refresh token, and an ID token go-oidc accepts whose
// at_hash matches and whose amr tells of the second factor.
func checkDeviceTokens(t *testing.T, s *testServer, rp *relyingParty, tok *oauth2.Token, userID string) {
	t.Helper()
	if _, at := s.verifyJWT(t, tok.AccessToken); claim(at, "sub") != userID || claim(at, "client_id") != rp.client.ID {
		t.Errorf("access token claims: %v", at)
	}
	if tok.RefreshToken == "" {
		t.Error("no refresh token for offline_access")
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := rp.idVerifier(t).Verify(context.WithoutCancel(t.Context()), raw)
	if err != nil {
		t.Fatalf("go-oidc rejects the ID token: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != userID || idt.VerifyAccessToken(tok.AccessToken) != nil || !contains(claims["amr"], "otp") {
		t.Errorf("ID token claims: %v", claims)
	}
}
