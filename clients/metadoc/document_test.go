package metadoc

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

const docURL = "https://app.example.com/oauth/client.json"

// validateCase validates publicDoc(docURL) changed by edit, and wants an
// error containing want ("" means valid).
func validateCase(t *testing.T, edit func(map[string]any), want string) {
	t.Helper()
	d := publicDoc(docURL)
	edit(d)
	body, _ := json.Marshal(d)
	_, err := Validate(docURL, body)
	if want == "" && err != nil {
		t.Fatalf("want valid, got %v", err)
	}
	if want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
		t.Fatalf("want an error containing %q, got %v", want, err)
	}
}

func TestValidateDocument(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"public client", func(map[string]any) {}, ""},
		{"client_id mismatch", func(d map[string]any) { d["client_id"] = "https://evil.example.com/oauth/client.json" }, "client_id"},
		{"client_id missing", func(d map[string]any) { delete(d, "client_id") }, "client_id"},
		{"client_id differs in case", func(d map[string]any) { d["client_id"] = strings.ToUpper(docURL) }, "client_id"},
		{"secret present", func(d map[string]any) { d["client_secret"] = "s3cret" }, "client_secret"},
		{"secret expiry present", func(d map[string]any) { d["client_secret_expires_at"] = 0 }, "client_secret"},
		{"shared-secret auth", func(d map[string]any) { d["token_endpoint_auth_method"] = "client_secret_basic" }, "token_endpoint_auth_method"},
		{"client_secret_post auth", func(d map[string]any) { d["token_endpoint_auth_method"] = "client_secret_post" }, "token_endpoint_auth_method"},
		{"first_party", func(d map[string]any) { d["first_party"] = true }, "first_party"},
		{"client_credentials", func(d map[string]any) { d["grant_types"] = []string{"authorization_code", "client_credentials"} }, "client_credentials"},
		{"device code", func(d map[string]any) { d["grant_types"] = []string{"urn:ietf:params:oauth:grant-type:device_code"} }, "grant_types"},
		{"refresh token listed", func(d map[string]any) { d["grant_types"] = []string{"authorization_code", "refresh_token"} }, ""},
		{"no redirect URIs", func(d map[string]any) { delete(d, "redirect_uris") }, "redirect_uris"},
		{"http redirect URI", func(d map[string]any) { d["redirect_uris"] = []string{"http://app.example.com/cb"} }, "loopback"},
		{"redirect URI with fragment", func(d map[string]any) { d["redirect_uris"] = []string{"https://app.example.com/cb#x"} }, "fragment"},
		{"relative redirect URI", func(d map[string]any) { d["redirect_uris"] = []string{"/cb"} }, "absolute"},
		{"admin scope", func(d map[string]any) { d["scope"] = "openid latch:admin" }, "latch:admin"},
		{"offline_access tolerated", func(d map[string]any) { d["scope"] = "openid offline_access" }, ""},
		{"implicit response type", func(d map[string]any) { d["response_types"] = []string{"token"} }, "response_types"},
		{"private_key_jwt without keys", func(d map[string]any) { d["token_endpoint_auth_method"] = "private_key_jwt" }, "jwks"},
		{"long name", func(d map[string]any) { d["client_name"] = strings.Repeat("n", 101) }, "client_name"},
	} {
		t.Run("case="+tc.name, func(t *testing.T) { validateCase(t, tc.edit, tc.want) })
	}
}

func TestValidateRefusesNonObjects(t *testing.T) {
	for _, body := range []string{`[]`, `"x"`, `{"client_id": 1}`, `{} {}`, `not json`} {
		if _, err := Validate(docURL, []byte(body)); err == nil {
			t.Errorf("Validate(%s) accepted it", body)
		}
	}
}

// TestValidateGivesNoLongLivedGrant pins what latch makes of a document
// that asks for everything it may: a public client with PKCE, the code
// grant only and no offline_access, so no refresh token; never first-party.
func TestValidateGivesNoLongLivedGrant(t *testing.T) {
	d := publicDoc(docURL)
	d["grant_types"] = []string{"authorization_code", "refresh_token"}
	d["scope"] = "openid profile email offline_access"
	delete(d, "token_endpoint_auth_method")
	body, _ := json.Marshal(d)
	c, err := Validate(docURL, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != docURL || !c.Public() || c.FirstParty || c.SecretHash != nil {
		t.Errorf("client: %+v", c)
	}
	if !slices.Equal(c.GrantTypes, []string{"authorization_code"}) {
		t.Errorf("grant types %v, want authorization_code only", c.GrantTypes)
	}
	if !slices.Equal(c.Scopes, []string{"openid", "profile", "email"}) {
		t.Errorf("scopes %v, want openid profile email", c.Scopes)
	}
}

func TestValidateScopes(t *testing.T) {
	d := publicDoc(docURL)
	d["scope"] = "openid mcp:tools"
	body, _ := json.Marshal(d)
	if c, err := Validate(docURL, body); err != nil || !slices.Equal(c.Scopes, []string{"openid", "mcp:tools"}) {
		t.Fatalf("an API's scope: %v, %v", c.Scopes, err)
	}
	d["scope"] = "openid latch:admin"
	body, _ = json.Marshal(d)
	if _, err := Validate(docURL, body); err == nil {
		t.Fatal("latch:admin accepted")
	}
}

func TestValidateDefaultScopes(t *testing.T) {
	body, _ := json.Marshal(publicDoc(docURL))
	c, err := Validate(docURL, body)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c.Scopes, []string{"openid", "profile", "email"}) || c.Name != "Example App" {
		t.Errorf("scopes %v, name %q", c.Scopes, c.Name)
	}
}

// TestValidateKeepsIDTokenAlg: a document's id_token_signed_response_alg is
// the client's, as a registered client's is; one latch does not sign with
// is refused.
func TestValidateKeepsIDTokenAlg(t *testing.T) {
	d := publicDoc(docURL)
	d["id_token_signed_response_alg"] = "ES256"
	body, _ := json.Marshal(d)
	c, err := Validate(docURL, body)
	if err != nil || c.IDTokenSignedResponseAlg != "ES256" {
		t.Fatalf("Validate = %q, %v; want ES256", c.IDTokenSignedResponseAlg, err)
	}
	validateCase(t, func(d map[string]any) { d["id_token_signed_response_alg"] = "HS256" }, "id_token_signed_response_alg")
}
