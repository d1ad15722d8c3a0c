package provider

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/ory/fosite"

	"github.com/latch-idp/latch/storage"
)

// A grant from decodedGrants is what decoding its bytes gives, a copy of
// its own each time; other bytes, or a session that already holds values,
// are decoded instead.
func TestDecodedGrantsMatchDecoding(t *testing.T) {
	client := FositeClient{Client: storage.Client{ID: "app", Name: "App"}}
	clientOf := func(string) (fosite.Client, error) { return client, nil }
	service := &fosite.Request{ID: "cc-1", Client: client, GrantedScope: fosite.Arguments{"api:read"},
		Form: url.Values{"grant_type": {"client_credentials"}}, Session: NewSession("app")}
	for name, r := range map[string]*fosite.Request{"every claim": fullRequest(), "signed in": testRequest("user-1"), "service": service} {
		t.Run("case="+name, func(t *testing.T) {
			data, err := MarshalRequest(r)
			if err != nil {
				t.Fatal(err)
			}
			want, err := unmarshalRequest(data, NewSession(""), clientOf)
			if err != nil {
				t.Fatal(err)
			}
			var g decodedGrants
			g.add("sig", data, want)
			got, ok, err := g.get("sig", data, NewSession(""), clientOf)
			if !ok || err != nil || !reflect.DeepEqual(got, want) {
				t.Fatalf("get = %v, %v:\n%+v\nwant\n%+v", ok, err, got, want)
			}
			// Changing what was handed out changes nothing kept.
			sess := got.Session.(*Session)
			sess.Claims.Subject, sess.Role = "changed", "changed"
			sess.SetExpiresAt(fosite.AccessToken, sess.GetExpiresAt(fosite.AccessToken).Add(1))
			got.GrantedScope = append(got.GrantedScope[:0], "changed")
			got.Form.Set("grant_type", "changed")
			if again, _, _ := g.get("sig", data, NewSession(""), clientOf); !reflect.DeepEqual(again, want) {
				t.Errorf("after changing a copy:\n%+v\nwant\n%+v", again, want)
			}
			if _, ok, _ := g.get("sig", append(data[:len(data):len(data)], ' '), NewSession(""), clientOf); ok {
				t.Error("other bytes came from the cache")
			}
			if _, ok, _ := g.get("other", data, NewSession(""), clientOf); ok {
				t.Error("another signature came from the cache")
			}
			if _, ok, _ := g.get("sig", data, NewSession("someone"), clientOf); ok {
				t.Error("a session with values was filled from the cache")
			}
		})
	}
}
