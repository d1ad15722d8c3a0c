package provider

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/token/jwt"

	"github.com/latch-idp/latch/storage"
)

// testRequest is a grant as fosite stores it with a refresh token.
func testRequest(subject string) *fosite.Request {
	sess := NewSession(subject)
	sess.Role = storage.RoleUser
	sess.SID = "sid-1"
	sess.GrantedAt = time.Now().UTC().Truncate(time.Second)
	sess.SetExpiresAt(fosite.RefreshToken, time.Now().Add(time.Hour).UTC().Truncate(time.Second))
	r := fosite.NewRequest()
	r.ID = "req-1"
	r.RequestedAt = time.Now().UTC().Truncate(time.Second)
	r.Client = FositeClient{Client: storage.Client{ID: "app"}}
	r.RequestedScope = fosite.Arguments{"openid", "offline_access"}
	r.GrantedScope = fosite.Arguments{"openid", "offline_access"}
	r.GrantedAudience = fosite.Arguments{"app"}
	r.Form = url.Values{"grant_type": {"authorization_code"}}
	r.Session = sess
	return r
}

func TestRequestRoundTrip(t *testing.T) {
	want := testRequest("user-1")
	data, err := MarshalRequest(want)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := RequestClientID(data); err != nil || id != "app" {
		t.Errorf("RequestClientID = %q, %v", id, err)
	}
	client := FositeClient{Client: storage.Client{ID: "app", Name: "App"}}
	sess := NewSession("")
	got, err := UnmarshalRequest(data, sess, client)
	if err != nil {
		t.Fatal(err)
	}
	if got.GetID() != "req-1" || got.GetClient().(FositeClient).Name != "App" ||
		!reflect.DeepEqual(got.GetGrantedScopes(), want.GrantedScope) ||
		!reflect.DeepEqual(got.GetRequestedScopes(), want.RequestedScope) ||
		!reflect.DeepEqual(got.GetGrantedAudience(), want.GrantedAudience) ||
		got.GetRequestForm().Get("grant_type") != "authorization_code" ||
		!got.GetRequestedAt().Equal(want.RequestedAt) {
		t.Errorf("UnmarshalRequest = %+v", got)
	}
	if got.GetSession() != fosite.Session(sess) {
		t.Error("the session was not decoded into the session argument")
	}
	ws := want.Session.(*Session)
	if sess.GetSubject() != "user-1" || sess.Role != storage.RoleUser || sess.SID != "sid-1" || !sess.GrantedAt.Equal(ws.GrantedAt) ||
		!sess.GetExpiresAt(fosite.RefreshToken).Equal(ws.GetExpiresAt(fosite.RefreshToken)) {
		t.Errorf("session = %+v", sess)
	}
	subject, expires := RefreshFacts(want)
	if subject != "user-1" || !expires.Equal(ws.GetExpiresAt(fosite.RefreshToken)) {
		t.Errorf("RefreshFacts = %q, %v", subject, expires)
	}
}

func TestRequestWithoutSession(t *testing.T) {
	r := testRequest("")
	r.Session = nil
	if subject, expires := RefreshFacts(r); subject != "" || !expires.IsZero() {
		t.Errorf("RefreshFacts(no session) = %q, %v", subject, expires)
	}
	data, err := MarshalRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	// A nil session argument decodes into a new latch session.
	got, err := UnmarshalRequest(data, nil, FositeClient{Client: storage.Client{ID: "app"}})
	if err != nil || got.GetID() != "req-1" {
		t.Fatalf("UnmarshalRequest = %+v, %v", got, err)
	}
	if _, ok := got.GetSession().(*Session); !ok {
		t.Errorf("session = %#v, want a *Session", got.GetSession())
	}
}

// A grant stored before sessions were written compactly (refresh tokens
// in PostgreSQL outlive an upgrade) still reads in full.
func TestRequestReadsFullSessionForm(t *testing.T) {
	const stored = `{"id":"req-1","requested_at":"2026-12-04T07:13:27Z","client_id":"app","requested_scope":["openid"],` +
		`"granted_scope":["openid"],"requested_audience":[],"granted_audience":["app"],"form":{"grant_type":["authorization_code"]},` +
		`"session":{"oidc":{"id_token_claims":{"jti":"","iss":"","sub":"user-1","aud":null,"nonce":"n-1","exp":"0001-01-01T00:00:00Z",` +
		`"iat":"0001-01-01T00:00:00Z","rat":"0001-01-01T00:00:00Z","auth_time":"2026-12-04T07:13:00Z","at_hash":"","acr":"","amr":["pwd","otp"],` +
		`"c_hash":"","ext":{"email":"a@example.com"}},"headers":{"extra":null},"expires_at":{"refresh_token":"2026-12-04T08:13:27Z"},` +
		`"username":"","subject":"user-1"},"role":"user","sid":"sid-1","granted_at":"2026-12-04T07:13:27Z"}}`
	sess := NewSession("")
	if _, err := UnmarshalRequest([]byte(stored), sess, FositeClient{Client: storage.Client{ID: "app"}}); err != nil {
		t.Fatal(err)
	}
	c := sess.Claims
	if sess.GetSubject() != "user-1" || sess.Role != storage.RoleUser || sess.SID != "sid-1" || sess.GrantedAt.IsZero() ||
		c.Subject != "user-1" || c.Nonce != "n-1" || !reflect.DeepEqual(c.AuthenticationMethodsReferences, []string{"pwd", "otp"}) ||
		c.AuthTime.IsZero() || c.Extra["email"] != "a@example.com" || sess.Headers == nil ||
		sess.GetExpiresAt(fosite.RefreshToken).IsZero() {
		t.Errorf("session = %+v, claims = %+v", sess, c)
	}
}

// fullRequest is testRequest with every claim and header of a session set.
func fullRequest() *fosite.Request {
	r := testRequest("user-1")
	sess := r.Session.(*Session)
	now := time.Now().UTC().Truncate(time.Second)
	*sess.Claims = jwt.IDTokenClaims{JTI: "j", Issuer: "i", Subject: "user-1", Audience: []string{"app"}, Nonce: "n",
		ExpiresAt: now, IssuedAt: now, RequestedAt: now, AuthTime: now, AccessTokenHash: "ah", AuthenticationContextClassReference: "acr",
		AuthenticationMethodsReferences: []string{"pwd"}, CodeHash: "ch", Extra: map[string]any{"email": "a@example.com"}}
	sess.Headers.Extra = map[string]any{"kid": "k"}
	sess.Username, sess.Resources, sess.Audience, sess.Scope, sess.JKT = "u", []string{"r"}, []string{"a"}, []string{"s"}, "jkt"
	return r
}

// Every ID token claim and header a session carries survives the compact
// form, which leaves out only what is empty.
func TestRequestKeepsEveryClaim(t *testing.T) {
	r := fullRequest()
	sess := r.Session.(*Session)
	data, err := MarshalRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	got := NewSession("")
	if _, err := UnmarshalRequest(data, got, FositeClient{Client: storage.Client{ID: "app"}}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sess) {
		t.Errorf("decoded\n%+v\nwant\n%+v", got, sess)
	}
	empty, _ := MarshalRequest(&fosite.Request{Client: FositeClient{Client: storage.Client{ID: "app"}}, Session: NewSession("svc")})
	if _, s, _ := strings.Cut(string(empty), `"session":`); s != `{"granted_at":"0001-01-01T00:00:00Z","oidc":{"id_token_claims":{"sub":"svc"},"subject":"svc"}}}` {
		t.Errorf("an empty session is written as %s", s)
	}
}

// Decoding into a session keeps the expiries already set on it and takes
// the stored ones, as fosite's token endpoint needs: it sets the new
// tokens' expiries on the request's session, then reads the code's session
// into it. Every other field takes the stored value, empty or not.
func TestRequestDecodesIntoSession(t *testing.T) {
	stored := testRequest("user-1")
	stored.Session.(*Session).SetExpiresAt(fosite.AuthorizeCode, time.Now().Add(time.Minute))
	data, err := MarshalRequest(stored)
	if err != nil {
		t.Fatal(err)
	}
	into := NewSession("someone-else")
	into.Claims.Nonce = "stale"
	into.Username = "stale"
	at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	into.SetExpiresAt(fosite.AccessToken, at)
	if _, err := UnmarshalRequest(data, into, FositeClient{Client: storage.Client{ID: "app"}}); err != nil {
		t.Fatal(err)
	}
	if !into.GetExpiresAt(fosite.AccessToken).Equal(at) || into.GetExpiresAt(fosite.AuthorizeCode).IsZero() ||
		into.GetExpiresAt(fosite.RefreshToken).IsZero() {
		t.Errorf("expiries = %v", into.ExpiresAt)
	}
	if into.GetSubject() != "user-1" || into.Claims.Subject != "user-1" || into.Claims.Nonce != "" || into.Username != "" {
		t.Errorf("session = %+v, claims = %+v", into, into.Claims)
	}
}
