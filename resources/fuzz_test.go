package resources

import (
	"encoding/json"
	"slices"
	"testing"
)

// FuzzMetadata feeds resource metadata JSON (as the admin API and the CLI
// read it) to New: no panic; an accepted resource has an identifier that
// CheckIdentifier accepts, distinct unreserved scopes and a lifetime in
// bounds, and its description validates again to the same resource.
func FuzzMetadata(f *testing.F) {
	for _, s := range []string{
		`{"resource":"https://api.example.com","scopes":["api:read","api:write"],"access_token_ttl":"10m"}`,
		`{"resource":"http://127.0.0.1:9000/api","scopes":["x"],"introspection_clients":["gateway"]}`,
		`{"resource":"https://api.example.com/#f","scopes":["openid"]}`,
		`{"resource":"https://u@api.example.com?q","scopes":["a","a"],"access_token_ttl":"-1h"}`,
		`{"resource":"urn:x","scopes":["a b","\"","\\"],"access_token_ttl":"9999999999h"}`,
		`{"resource":"","scopes":[]}`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var m Metadata
		if json.Unmarshal(body, &m) != nil {
			return
		}
		r, err := New(m)
		if err != nil {
			return
		}
		if err := CheckIdentifier(r.ID); err != nil {
			t.Fatalf("accepted resource %q: %v", r.ID, err)
		}
		for i, s := range r.Scopes {
			if !validScope(s) || Reserved(s) || slices.Contains(r.Scopes[:i], s) {
				t.Fatalf("accepted scope %q in %q", s, r.Scopes)
			}
		}
		if r.AccessTokenTTL != 0 && (r.AccessTokenTTL < MinAccessTokenTTL || r.AccessTokenTTL > MaxAccessTokenTTL) {
			t.Fatalf("accepted lifetime %s", r.AccessTokenTTL)
		}
		again, err := New(ToMetadata(r))
		if err != nil || !slices.Equal(again.Scopes, r.Scopes) || again.ID != r.ID || again.AccessTokenTTL != r.AccessTokenTTL || again.Name != r.Name {
			t.Fatalf("resource %+v does not survive its description: %+v, %v", r, again, err)
		}
	})
}
