package metadoc

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/latch-idp/latch/clients"
)

// FuzzDocument feeds client_id URLs and the documents served at them to
// the draft's rules: no panic; an accepted client_id is an https URL with
// a host and a path; an accepted document describes the client at that
// URL, public or private_key_jwt, with authorization_code and no refresh
// grant, and no secret.
func FuzzDocument(f *testing.F) {
	good, _ := json.Marshal(publicDoc(docURL))
	f.Add(docURL, good)
	f.Add(docURL, []byte(`{"client_id":"`+docURL+`","redirect_uris":["https://app.example.com/cb"],"grant_types":["authorization_code","refresh_token"],"scope":"openid offline_access"}`))
	f.Add(docURL, []byte(`{"client_id":"`+docURL+`","client_secret":"s","first_party":true}{}`))
	f.Add("https://app.example.com/a/../client.json", []byte(`[]`))
	f.Add("https://u@app.example.com/c?q#f", []byte(`null`))
	f.Add("HTTPS://app.example.com/%2e%2E/c", []byte(`{"client_id":1}`))
	f.Fuzz(func(t *testing.T, id string, body []byte) {
		u, err := CheckClientID(id)
		if err != nil {
			return
		}
		if u.Scheme != "https" || u.Hostname() == "" || u.Path == "" || u.User != nil || strings.Contains(id, "#") {
			t.Fatalf("CheckClientID accepted %q", id)
		}
		c, err := Validate(id, body)
		if err != nil {
			return
		}
		if c.ID != id || len(c.SecretHash) != 0 || c.FirstParty {
			t.Fatalf("document %s at %q gave client %+v", body, id, c)
		}
		if !slices.Contains(c.GrantTypes, clients.GrantAuthorizationCode) || slices.Contains(c.GrantTypes, clients.GrantRefreshToken) {
			t.Fatalf("document %s gave grants %q", body, c.GrantTypes)
		}
	})
}
