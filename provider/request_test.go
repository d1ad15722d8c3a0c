package provider

import (
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/ory/fosite"

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
