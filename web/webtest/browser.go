package webtest

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// Browser starts headless Chromium (the binary in $CHROMIUM, which
// scripts/test.sh sets) with a fresh profile and returns a context to drive
// it with chromedp. A missing Chromium fails the test: it never skips.
func Browser(t testing.TB) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		t.Fatal("CHROMIUM is not set: run the tests with scripts/test.sh, which installs Chromium and sets it")
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("CHROMIUM=%s: %v", path, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// Start the browser now, without a deadline (a deadline on the first
	// call would stop the whole browser), so a broken install fails here.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// Tab opens a tab of ctx's browser in a browser context of its own, so it
// starts with no cookies and shares none with other tabs: a second user, or
// a fresh one, without the cost of another browser. It closes at cleanup.
func Tab(ctx context.Context, t testing.TB) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The tab lives as long as the context of its first run: that run must
	// have no deadline.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return tab
}

// Do runs steps in the browser of ctx, each batch within timeout, and on
// failure fails t with the page the browser was on.
func Do(ctx context.Context, t testing.TB, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		fail(ctx, t, err)
	}
}

// fail fails t with err and the page the browser of ctx is on.
func fail(ctx context.Context, t testing.TB, err error) {
	t.Helper()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	t.Fatalf("browser: %v\nat %s:\n%s", err, loc, body)
}

// Load runs steps that load a new document (a navigation, a click that
// submits a form) within timeout, waits for it, and returns the response
// of that document, after any redirects. On failure it fails t with the
// page the browser was on.
func Load(ctx context.Context, t testing.TB, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) *network.Response {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := chromedp.RunResponse(tctx, steps...)
	if err == nil && resp == nil {
		err = errors.New("no document was loaded")
	}
	if err != nil {
		fail(ctx, t, err)
	}
	return resp
}

// Get runs one action that returns a value, within timeout.
func Get[T any](ctx context.Context, t testing.TB, timeout time.Duration, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// VirtualAuthenticator gives the tab of ctx a virtual platform
// authenticator (the DevTools WebAuthn domain): it makes discoverable
// passkeys, verifies the user and answers at once. synced makes its
// passkeys backup-eligible, as a synced passkey is.
func VirtualAuthenticator(ctx context.Context, t testing.TB, synced bool) webauthn.AuthenticatorID {
	t.Helper()
	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("enable WebAuthn: %v", err)
	}
	res, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{Options: &webauthn.VirtualAuthenticatorOptions{
		Protocol: webauthn.AuthenticatorProtocolCtap2, Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
		HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		DefaultBackupEligibility: synced, DefaultBackupState: synced,
	}})
	if err != nil {
		t.Fatalf("add a virtual authenticator: %v", err)
	}
	return res.AuthenticatorID
}

// BogusSignatures makes the virtual authenticator id sign with a zero
// signature (on) or sign properly again (off): a tampered answer.
func BogusSignatures(ctx context.Context, t testing.TB, id webauthn.AuthenticatorID, on bool) {
	t.Helper()
	if _, err := chromedp.Call(ctx, webauthn.SetResponseOverrideBits, webauthn.SetResponseOverrideBitsParams{AuthenticatorID: id, IsBogusSignature: &on}); err != nil {
		t.Fatalf("set the authenticator's signatures: %v", err)
	}
}
