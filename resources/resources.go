// Package resources turns API resource JSON into registered resources and
// back, and decides which resources a grant and an access token are for
// (RFC 8707 resource indicators, RFC 9068 section 3 audiences). It owns the
// rule that every scope belongs to OpenID Connect or to exactly one
// resource; the protocol layer asks it and never decides audiences itself.
package resources

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/latch-idp/latch/storage"
)

// Metadata is an API resource as the CLI and the admin API read and write
// it.
type Metadata struct {
	Resource       string   `json:"resource"`
	Name           string   `json:"name,omitempty"`
	Scopes         []string `json:"scopes"`
	AccessTokenTTL string   `json:"access_token_ttl,omitempty"` // a Go duration; empty: the server's
	// IntrospectionClients are the clients the API authenticates as at
	// introspection: each may introspect the access tokens meant for it.
	IntrospectionClients []string `json:"introspection_clients,omitempty"`
	CreatedAt            int64    `json:"created_at,omitempty"`
	UpdatedAt            int64    `json:"updated_at,omitempty"`
}

// Scopes of OpenID Connect: they reach userinfo and refresh, no API.
const (
	ScopeOpenID        = "openid"
	ScopeProfile       = "profile"
	ScopeEmail         = "email"
	ScopeOfflineAccess = "offline_access"
)

// AdminScope is the scope of latch's own admin API; no registered resource
// may claim it.
const AdminScope = "latch:admin"

// Admin is latch's own admin API as a resource: its identifier is the
// API's URL, and it owns AdminScope. It is built in, never stored.
func Admin(apiURL string) storage.Resource {
	return storage.Resource{ID: apiURL, Name: "latch admin API", Scopes: []string{AdminScope}}
}

// OIDCScopes lists the scopes OpenID Connect owns, in the order discovery
// shows them.
func OIDCScopes() []string {
	return []string{ScopeOpenID, ScopeProfile, ScopeEmail, ScopeOfflineAccess}
}

// IsOIDC reports whether OpenID Connect owns scope.
func IsOIDC(scope string) bool { return slices.Contains(OIDCScopes(), scope) }

// Reserved reports whether scope can never belong to a registered resource.
func Reserved(scope string) bool { return IsOIDC(scope) || scope == AdminScope }

// Bounds of a resource's own access token lifetime.
const (
	MinAccessTokenTTL = 10 * time.Second
	MaxAccessTokenTTL = 24 * time.Hour
	maxScopes         = 100
	// maxIntrospectionClients bounds a resource's introspection clients.
	maxIntrospectionClients = 20
	maxNameLength           = 200
)

// New validates m and builds the resource to store.
func New(m Metadata) (storage.Resource, error) {
	ttl, err := Validate(&m)
	if err != nil {
		return storage.Resource{}, err
	}
	return storage.Resource{ID: m.Resource, Name: m.Name, Scopes: m.Scopes, AccessTokenTTL: ttl, IntrospectionClients: m.IntrospectionClients}, nil
}

// Validate checks m and returns its access token lifetime (zero: the
// server's).
func Validate(m *Metadata) (time.Duration, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if err := CheckIdentifier(m.Resource); err != nil {
		bad("resource: %v", err)
	}
	m.Name = strings.TrimSpace(m.Name)
	if len(m.Name) > maxNameLength {
		bad("name: use at most %d characters", maxNameLength)
	}
	if len(m.Scopes) == 0 {
		bad("scopes: a resource needs at least one scope")
	}
	if len(m.Scopes) > maxScopes {
		bad("scopes: at most %d", maxScopes)
	}
	seen := map[string]bool{}
	for _, s := range m.Scopes {
		switch {
		case !validScope(s):
			bad("scopes: %q is not a scope token (RFC 6749 section 3.3: printable, no spaces, quotes or backslashes)", s)
		case Reserved(s):
			bad("scopes: %q is reserved for latch", s)
		case seen[s]:
			bad("scopes: %q is listed twice", s)
		}
		seen[s] = true
	}
	if len(m.IntrospectionClients) > maxIntrospectionClients {
		bad("introspection_clients: at most %d", maxIntrospectionClients)
	}
	for i, id := range m.IntrospectionClients {
		switch {
		case !storage.ValidClientID(id):
			bad("introspection_clients: %q is not a client ID (1 to 128 characters, without spaces, ':', '/', '?' or '#')", id)
		case slices.Contains(m.IntrospectionClients[:i], id):
			bad("introspection_clients: %q is listed twice", id)
		}
	}
	var ttl time.Duration
	if m.AccessTokenTTL != "" {
		d, err := time.ParseDuration(m.AccessTokenTTL)
		switch {
		case err != nil:
			bad("access_token_ttl: %q is not a duration such as 10m", m.AccessTokenTTL)
		case d < MinAccessTokenTTL || d > MaxAccessTokenTTL:
			bad("access_token_ttl: %s is outside %s to %s", d, MinAccessTokenTTL, MaxAccessTokenTTL)
		default:
			ttl = d
		}
	}
	return ttl, errors.Join(errs...)
}

// CheckIdentifier accepts what RFC 8707 section 2 calls a resource: an
// absolute URI without a fragment (nor, here, a query or user information),
// https, or http on a loopback host for APIs under local development.
func CheckIdentifier(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		return errors.New("required")
	case len(raw) > 2000:
		return errors.New("longer than 2000 characters")
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("%q is not an absolute URI", raw)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("%q must not contain a fragment", raw)
	case u.RawQuery != "" || strings.Contains(raw, "?"):
		return fmt.Errorf("%q must not contain a query", raw)
	case u.User != nil:
		return fmt.Errorf("%q must not contain user information", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("%q: plain http is allowed only on a loopback host", raw)
	}
	return fmt.Errorf("%q: use https (or http on a loopback host)", raw)
}

// validScope is RFC 6749 section 3.3's scope-token.
func validScope(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for _, c := range []byte(s) {
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

// ToMetadata describes a stored resource.
func ToMetadata(r storage.Resource) Metadata {
	m := Metadata{
		Resource:  r.ID,
		Name:      r.Name,
		Scopes:    r.Scopes,
		CreatedAt: r.CreatedAt.Unix(),
		UpdatedAt: r.UpdatedAt.Unix(),
	}
	if m.Scopes == nil {
		m.Scopes = []string{}
	}
	if r.AccessTokenTTL > 0 {
		m.AccessTokenTTL = r.AccessTokenTTL.String()
	}
	if len(r.IntrospectionClients) > 0 {
		m.IntrospectionClients = r.IntrospectionClients
	}
	return m
}
