package consent_test

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/latch-idp/latch/consent"
	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/locale"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web/webtest"
)

const (
	email = "grace@example.com"
	pw    = "hopper compiler cobol 1959"
)

// toConsent signs in for a third-party flow and returns the client on the
// consent page, with the page.
func toConsent(t *testing.T, e *webtest.Env, scopes []string) (*webtest.Client, *flow.Flow, storage.User, *webtest.Response) {
	t.Helper()
	return toConsentOf(t, e, webtest.ThirdParty+"app", scopes, func(f *flow.Flow) { f.ClientName = "Photo Printer" })
}

// toConsentOf is toConsent for a flow of clientID, changed by mutate.
func toConsentOf(t *testing.T, e *webtest.Env, clientID string, scopes []string, mutate func(*flow.Flow)) (*webtest.Client, *flow.Flow, storage.User, *webtest.Response) {
	t.Helper()
	u := e.CreateUser(t, email, pw, nil)
	f := e.StartFlow(t, clientID, scopes, mutate)
	c := e.NewClient()
	r := c.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}, "flow": {f.ID}})
	webtest.MustRedirect(t, r, e.Flows.URL(flow.StageResume, f.ID))
	r = c.Get(t, r.Location)
	webtest.MustRedirect(t, r, "/consent?flow="+f.ID)
	page := c.Get(t, r.Location)
	webtest.MustStatus(t, page, http.StatusOK)
	return c, f, u, page
}

func TestConsent(t *testing.T) {
	scopes := []string{"openid", "profile", "email", "offline_access", "photos.read"}

	t.Run("case=the page shows the client and the scopes in plain words", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		_, _, _, page := toConsent(t, e, scopes)
		for _, want := range []string{"Photo Printer", "Confirm your identity", "Your name", "Your email address", "Stay signed in (access while you&#39;re away)", "photos.read",
			`name="decision" value="allow"`, `name="decision" value="deny"`} {
			if !strings.Contains(page.Body, want) {
				t.Errorf("consent page lacks %q", want)
			}
		}
		// A keypress must never grant access: nothing is focused for it.
		if strings.Contains(page.Body, "autofocus") {
			t.Error("the consent page focuses a button")
		}
	})

	t.Run("case=allow saves the union of scopes and resumes the flow", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, f, u, _ := toConsent(t, e, scopes)
		if err := e.Store.SaveConsent(t.Context(), storage.Consent{UserID: u.ID, ClientID: f.ClientID, Scopes: []string{"earlier"}}); err != nil {
			t.Fatal(err)
		}
		r := c.Submit(t, "/consent", url.Values{"flow": {f.ID}, "decision": {"allow"}})
		webtest.MustRedirect(t, r, e.Flows.URL(flow.StageResume, f.ID))
		res := webtest.DecodeResult(t, c.Get(t, r.Location))
		if !res.Flow.Consented || res.Flow.Denied || !slices.Equal(res.Flow.GrantedScopes, scopes) {
			t.Errorf("flow after allow = %+v", res.Flow)
		}
		got, err := e.Store.GetConsent(t.Context(), u.ID, f.ClientID)
		if err != nil {
			t.Fatal(err)
		}
		want := append([]string{"earlier"}, scopes...)
		slices.Sort(want)
		slices.Sort(got.Scopes)
		if !slices.Equal(got.Scopes, want) {
			t.Errorf("stored scopes %v, want %v", got.Scopes, want)
		}
		// The answered flow cannot be answered again.
		webtest.MustStatus(t, c.Submit(t, "/consent", url.Values{"flow": {f.ID}, "decision": {"deny"}}), http.StatusBadRequest)
	})

	t.Run("case=deny marks the flow denied and saves nothing", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, f, u, _ := toConsent(t, e, scopes)
		r := c.Submit(t, "/consent", url.Values{"flow": {f.ID}, "decision": {"deny"}})
		webtest.MustRedirect(t, r, e.Flows.URL(flow.StageResume, f.ID))
		res := webtest.DecodeResult(t, c.Get(t, r.Location))
		if !res.Flow.Denied || res.Flow.Consented || len(res.Flow.GrantedScopes) != 0 {
			t.Errorf("flow after deny = %+v", res.Flow)
		}
		if _, err := e.Store.GetConsent(t.Context(), u.ID, f.ClientID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("consent after deny: %v", err)
		}
	})

	t.Run("case=another browser cannot answer the flow", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		_, f, _, _ := toConsent(t, e, scopes)
		other := e.NewClient()
		webtest.MustStatus(t, other.Get(t, "/consent?flow="+f.ID), http.StatusForbidden)
		webtest.MustStatus(t, other.Submit(t, "/consent", url.Values{"flow": {f.ID}, "decision": {"allow"}}), http.StatusForbidden)
		// Nor another session of the same user.
		webtest.MustRedirect(t, other.Submit(t, "/login", url.Values{"email": {email}, "password": {pw}}), "/account")
		webtest.MustStatus(t, other.Get(t, "/consent?flow="+f.ID), http.StatusForbidden)
	})

	t.Run("case=a flow still at the login stage is refused", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		f := e.StartFlow(t, webtest.ThirdParty+"app", scopes, nil)
		webtest.MustStatus(t, e.NewClient().Get(t, "/consent?flow="+f.ID), http.StatusBadRequest)
	})

	t.Run("case=a decision other than allow or deny is refused", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, f, _, _ := toConsent(t, e, scopes)
		webtest.MustStatus(t, c.Submit(t, "/consent", url.Values{"flow": {f.ID}, "decision": {"maybe"}}), http.StatusBadRequest)
	})
}

// TestConsentUnregisteredClient pins the page of a client identified by
// its metadata document: named by the host serving it, plainly marked as
// not registered, and asked every time (the answer is not kept).
func TestConsentUnregisteredClient(t *testing.T) {
	// The fake provider asks for consent for IDs with its prefix; the page
	// itself goes by UnregisteredHost, not by the form of the ID.
	const id = webtest.ThirdParty + "app.example.com-client"
	unregistered := func(f *flow.Flow) { f.ClientName = "Totally Official Bank"; f.UnregisteredHost = "app.example.com" }

	t.Run("case=the page names the host and says it is not registered", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		_, _, _, page := toConsentOf(t, e, id, []string{"openid", "email"}, unregistered)
		for _, want := range []string{"<strong>app.example.com</strong> wants to access your account",
			"This application is not registered with " + e.URL, "identified by its web address <strong>app.example.com</strong>",
			"calls itself “Totally Official Bank”", "Continue only if you trust it",
			`name="decision" value="allow"`, `name="decision" value="deny"`} {
			if !strings.Contains(page.Body, want) {
				t.Errorf("consent page lacks %q:\n%s", want, page.Body)
			}
		}
		if strings.Contains(page.Body, "<strong>Totally Official Bank</strong>") {
			t.Error("the page headlines the name the client gives itself")
		}
	})

	t.Run("case=allow resumes the flow and keeps no consent", func(t *testing.T) {
		e := webtest.New(t, webtest.Options{})
		c, f, u, _ := toConsentOf(t, e, id, []string{"openid", "email"}, unregistered)
		r := c.Submit(t, "/consent", url.Values{"flow": {f.ID}, "decision": {"allow"}})
		webtest.MustRedirect(t, r, e.Flows.URL(flow.StageResume, f.ID))
		if res := webtest.DecodeResult(t, c.Get(t, r.Location)); !res.Flow.Consented {
			t.Errorf("flow after allow = %+v", res.Flow)
		}
		if _, err := e.Store.GetConsent(t.Context(), u.ID, id); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("consent of an unregistered client was kept: %v", err)
		}
	})
}

func TestDescribe(t *testing.T) {
	for scope, want := range map[string]string{"openid": "Confirm your identity", "profile": "Your name", "email": "Your email address",
		"offline_access": "Stay signed in (access while you're away)", "calendar.read": "calendar.read"} {
		if got := consent.Describe(locale.Get("en"), scope); got != want {
			t.Errorf("Describe(%q) = %q, want %q", scope, got, want)
		}
	}
	if got := consent.Describe(locale.Get("de"), "email"); got != "Ihre E-Mail-Adresse sehen" {
		t.Errorf("Describe in German = %q", got)
	}
}
