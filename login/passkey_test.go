package login_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/passkey"
	"github.com/latch-idp/latch/passkey/passkeytest"
	"github.com/latch-idp/latch/web/webtest"
)

// passkeyOptions asks an options endpoint as the page's script does.
func passkeyOptions(t *testing.T, c *webtest.Client, path string, form url.Values) passkey.Options {
	t.Helper()
	r := c.Submit(t, path, form)
	webtest.MustStatus(t, r, http.StatusOK)
	var o passkey.Options
	if err := json.Unmarshal([]byte(r.Body), &o); err != nil || o.Ceremony == "" {
		t.Fatalf("options from %s: %v %s", path, err, r.Body)
	}
	return o
}

// registerPasskey adds a passkey made by auth to the signed-in account of c.
func registerPasskey(t *testing.T, c *webtest.Client, auth *passkeytest.Authenticator) {
	t.Helper()
	o := passkeyOptions(t, c, "/account/passkeys/options", url.Values{"passkey": {"register"}})
	answer, err := auth.Create(o.Options)
	if err != nil {
		t.Fatal(err)
	}
	r := c.Submit(t, "/account/passkeys", url.Values{"ceremony": {o.Ceremony}, "credential": {string(answer)}, "passkey_name": {"Test key"}})
	webtest.MustRedirect(t, r, "/account?done=passkey_added")
}

// passkeyUser is a user with a passkey held by auth, signed out.
func passkeyUser(t *testing.T, e *webtest.Env) *passkeytest.Authenticator {
	t.Helper()
	e.CreateUser(t, email, pw, nil)
	c := e.NewClient()
	webtest.MustRedirect(t, c.Login(t, email, pw), "/account")
	auth := &passkeytest.Authenticator{Origin: e.URL}
	registerPasskey(t, c, auth)
	return auth
}

// signInWithPasskey runs a passwordless sign-in on c with auth.
func signInWithPasskey(t *testing.T, c *webtest.Client, auth *passkeytest.Authenticator, form url.Values) (*webtest.Response, []byte) {
	t.Helper()
	o := passkeyOptions(t, c, "/login/passkey/options", url.Values{"passkey": {"signin"}})
	answer, err := auth.Get(o.Options, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := url.Values{"ceremony": {o.Ceremony}, "credential": {string(answer)}}
	for k, v := range form {
		f[k] = v
	}
	return c.Submit(t, "/login/passkey", f), answer
}

func TestPasskeyPasswordlessSignIn(t *testing.T) {
	e := webtest.New(t, webtest.Options{Localhost: true})
	auth := passkeyUser(t, e)
	c := e.NewClient()
	page := c.Get(t, "/login")
	if !strings.Contains(page.Body, `name="passkey" value="signin"`) || !strings.Contains(page.Body, `src="/static/passkey.js"`) {
		t.Fatal("the sign-in page offers no passkey, or loads no script")
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP of the sign-in page = %q, want scripts from latch only", csp)
	}
	r, _ := signInWithPasskey(t, c, auth, nil)
	webtest.MustRedirect(t, r, "/account")
	if amr := e.Session(t, c).AMR; !slices.Equal(amr, []string{"hwk", "user", "mfa"}) {
		t.Errorf("session amr = %v, want hwk user mfa", amr)
	}
}

func TestPasskeySignInRefusesReplayAndRemovedKeys(t *testing.T) {
	e := webtest.New(t, webtest.Options{Localhost: true})
	auth := passkeyUser(t, e)
	c := e.NewClient()
	o := passkeyOptions(t, c, "/login/passkey/options", url.Values{"passkey": {"signin"}})
	answer, _ := auth.Get(o.Options, nil)
	form := url.Values{"ceremony": {o.Ceremony}, "credential": {string(answer)}}
	webtest.MustRedirect(t, c.Submit(t, "/login/passkey", form), "/account")

	replay := e.NewClient()
	r := replay.Submit(t, "/login/passkey", form)
	webtest.MustStatus(t, r, http.StatusBadRequest)
	if strings.Contains(r.Body, "Your account") {
		t.Fatal("a replayed assertion signed in")
	}

	// Remove the passkey (the session is fresh); it no longer signs in.
	acct := c.Get(t, "/account")
	ids := webtest.Attr(acct.Body, "data-passkey-id")
	if len(ids) != 1 {
		t.Fatalf("account page lists %d passkeys, want 1", len(ids))
	}
	webtest.MustRedirect(t, c.Submit(t, "/account/passkeys/remove", url.Values{"passkey_remove": {ids[0]}}), "/account?done=passkey_removed")
	fresh := e.NewClient()
	r, _ = signInWithPasskey(t, fresh, auth, nil)
	webtest.MustStatus(t, r, http.StatusUnauthorized)
}

func TestPasskeyAsSecondFactor(t *testing.T) {
	e := webtest.New(t, webtest.Options{Localhost: true})
	auth := passkeyUser(t, e)
	c := e.NewClient()
	webtest.MustRedirect(t, c.Login(t, email, pw), "/login/code")
	page := c.Get(t, "/login/code")
	if !strings.Contains(page.Body, `name="passkey" value="verify"`) || strings.Contains(page.Body, `name="code"`) {
		t.Fatal("the second step of a passkey-only account offers no passkey, or a code field")
	}
	o := passkeyOptions(t, c, "/login/code/passkey/options", url.Values{"passkey": {"verify"}})
	answer, _ := auth.Get(o.Options, nil)
	webtest.MustRedirect(t, c.Submit(t, "/login/code/passkey", url.Values{"ceremony": {o.Ceremony}, "credential": {string(answer)}}), "/account")
	if amr := e.Session(t, c).AMR; !slices.Equal(amr, []string{"pwd", "hwk", "user"}) {
		t.Errorf("session amr = %v, want pwd hwk user", amr)
	}
}

func TestPasskeySecondFactorRefusesAnotherUsersKey(t *testing.T) {
	e := webtest.New(t, webtest.Options{Localhost: true})
	passkeyUser(t, e) // ada
	e.CreateUser(t, "eve@example.com", pw, nil)
	ec := e.NewClient()
	webtest.MustRedirect(t, ec.Login(t, "eve@example.com", pw), "/account")
	eveKey := &passkeytest.Authenticator{Origin: e.URL}
	registerPasskey(t, ec, eveKey)

	c := e.NewClient()
	webtest.MustRedirect(t, c.Login(t, email, pw), "/login/code")
	o := passkeyOptions(t, c, "/login/code/passkey/options", url.Values{"passkey": {"verify"}})
	answer, _ := eveKey.Get(o.Options, eveKey.Credentials()[0])
	r := c.Submit(t, "/login/code/passkey", url.Values{"ceremony": {o.Ceremony}, "credential": {string(answer)}})
	webtest.MustStatus(t, r, http.StatusUnauthorized)
	// Nor does a code stand in for the passkey of a passkey-only account.
	webtest.MustStatus(t, c.Submit(t, "/login/code", url.Values{"code": {"123456"}}), http.StatusBadRequest)
}

func TestPasskeyFormsWithoutJavaScriptSayWhatIsMissing(t *testing.T) {
	e := webtest.New(t, webtest.Options{Localhost: true})
	e.CreateUser(t, email, pw, nil)
	c := e.NewClient()
	r := c.Submit(t, "/login/passkey", url.Values{"passkey": {"signin"}})
	webtest.MustStatus(t, r, http.StatusBadRequest)
	if !strings.Contains(r.Body, "needs JavaScript") {
		t.Errorf("passwordless without a script: %s", r.Body)
	}
	webtest.MustRedirect(t, c.Login(t, email, pw), "/account")
	r = c.Submit(t, "/account/passkeys", url.Values{"passkey": {"register"}})
	webtest.MustStatus(t, r, http.StatusBadRequest)
	if !strings.Contains(r.Body, "needs JavaScript") {
		t.Errorf("registration without a script: %s", r.Body)
	}
}

func TestPasskeyRequiredByTheApp(t *testing.T) {
	e := webtest.New(t, webtest.Options{Localhost: true})
	auth := passkeyUser(t, e)
	requiring := func() *flow.Flow {
		return e.StartFlow(t, "first", []string{"openid"}, func(f *flow.Flow) { f.ACR = passkey.ACRPhishingResistant })
	}
	// A password and a TOTP code do not do: the second step asks for the passkey.
	f := requiring()
	c := e.NewClient()
	if page := c.Get(t, "/login?flow="+f.ID); !strings.Contains(page.Body, "asks you to sign in with a passkey") {
		t.Error("the sign-in page does not say the app asks for a passkey")
	}
	webtest.MustRedirect(t, c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "flow": {f.ID}}), "/login/code")
	o := passkeyOptions(t, c, "/login/code/passkey/options", url.Values{"passkey": {"verify"}})
	answer, _ := auth.Get(o.Options, nil)
	webtest.MustRedirect(t, c.Submit(t, "/login/code/passkey", url.Values{"ceremony": {o.Ceremony}, "credential": {string(answer)}}), e.Flows.URL(flow.StageResume, f.ID))
	got, err := e.Flows.Get(t.Context(), f.ID, flow.StageResume)
	if err != nil || passkey.ACR(got.AMR) != passkey.ACRPhishingResistantHardware {
		t.Fatalf("flow after a passkey = %+v, %v; want a phishing-resistant amr", got, err)
	}
	// A live session signed in with a password only does not satisfy it.
	e.CreateUser(t, "pat@example.com", pw, nil)
	pc := e.NewClient()
	webtest.MustRedirect(t, pc.Login(t, "pat@example.com", pw), "/account")
	f = requiring()
	page := pc.Get(t, "/login?flow="+f.ID)
	webtest.MustStatus(t, page, http.StatusOK)
	webtest.MustRedirect(t, pc.Submit(t, "/login", url.Values{"email": {"pat@example.com"}, "password": {pw}, "flow": {f.ID}}), "/login/code")
	if code := pc.Get(t, "/login/code"); !strings.Contains(code.Body, "has none yet") {
		t.Errorf("a user without a passkey is not told why the sign-in cannot go on:\n%s", code.Body)
	}
}

func TestPasskeyRegistrationAsksForAFreshSignIn(t *testing.T) {
	e := webtest.New(t, webtest.Options{Localhost: true, Reauth: time.Nanosecond})
	e.CreateUser(t, email, pw, nil)
	c := e.NewClient()
	webtest.MustRedirect(t, c.Login(t, email, pw), "/account")
	r := c.Submit(t, "/account/passkeys/options", url.Values{"passkey": {"register"}})
	webtest.MustStatus(t, r, http.StatusOK)
	var answer struct{ Redirect, Ceremony string }
	if err := json.Unmarshal([]byte(r.Body), &answer); err != nil || !strings.HasPrefix(answer.Redirect, "/login?reauth=1") || answer.Ceremony != "" {
		t.Fatalf("options for a stale session = %s, want a redirect to sign in again", r.Body)
	}
	r = c.Submit(t, "/account/passkeys", url.Values{"ceremony": {"x"}, "credential": {"{}"}})
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/login?reauth=1") {
		t.Fatalf("a registration answer from a stale session: %d %s", r.Status, r.Location)
	}
}

// Each passwordless sign-in begun holds a challenge in Redis: one network
// may begin a bounded number.
func TestPasskeySignInOptionsAreLimitedPerNetwork(t *testing.T) {
	e := webtest.New(t, webtest.Options{Localhost: true})
	c := e.NewClient()
	csrf := c.CSRF(t)
	var last *webtest.Response
	for i := 0; i < 70; i++ {
		last = c.Post(t, "/login/passkey/options", url.Values{"csrf_token": {csrf}, "passkey": {"signin"}})
		if last.Status != http.StatusOK {
			break
		}
	}
	if last.Status != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" || !strings.Contains(last.Body, "Too many attempts") {
		t.Fatalf("after many options requests: %d %q %s", last.Status, last.Header.Get("Retry-After"), last.Body)
	}
}

// A password reset proves only the mailbox: it offers to remove a passkey
// added recently (someone with the password may have bound it), and
// removes it only when asked.
func TestResetOffersToRemoveARecentPasskey(t *testing.T) {
	e := webtest.New(t, webtest.Options{Localhost: true})
	auth := passkeyUser(t, e)
	c := e.NewClient()
	token := resetToken(t, e, c, email)
	page := c.Submit(t, "/reset", url.Values{"token": {token}, "new_password": {newPW}})
	webtest.MustStatus(t, page, http.StatusOK)
	recovery := webtest.Attr(page.Body, `name="recovery" value`)
	if len(recovery) != 1 || !strings.Contains(page.Body, "The passkey “Test key”") {
		t.Fatalf("no offer to remove the recent passkey:\n%s", page.Body)
	}
	webtest.MustRedirect(t, c.Submit(t, "/reset/factors", url.Values{"recovery": recovery}), "/login?done=reset_factor")
	r, _ := signInWithPasskey(t, e.NewClient(), auth, nil)
	webtest.MustStatus(t, r, http.StatusUnauthorized)
	// The offer is spent: sent again, it removes nothing more and says so.
	webtest.MustRedirect(t, c.Submit(t, "/reset/factors", url.Values{"recovery": recovery}), "/login?done=reset")
}

func TestPasskeyRename(t *testing.T) {
	e := webtest.New(t, webtest.Options{Localhost: true})
	e.CreateUser(t, email, pw, nil)
	c := e.NewClient()
	webtest.MustRedirect(t, c.Login(t, email, pw), "/account")
	registerPasskey(t, c, &passkeytest.Authenticator{Origin: e.URL})
	id := webtest.Attr(c.Get(t, "/account").Body, "data-passkey-id")[0]
	webtest.MustRedirect(t, c.Submit(t, "/account/passkeys/rename", url.Values{"passkey_id": {id}, "passkey_rename": {"Work phone"}}), "/account?done=passkey_renamed")
	if page := c.Get(t, "/account"); !strings.Contains(page.Body, "<strong>Work phone</strong>") {
		t.Fatal("the new name is not shown")
	}
	webtest.MustStatus(t, c.Submit(t, "/account/passkeys/rename", url.Values{"passkey_id": {id}, "passkey_rename": {"  "}}), http.StatusBadRequest)
}
