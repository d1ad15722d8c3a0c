package resources

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latch-idp/latch/storage"
)

// Error is a request the resources and scopes of a grant cannot satisfy.
// Code is the RFC error it answers with: invalid_target (RFC 8707 section
// 2: a resource that is malformed, unknown, or that the client may not
// reach) or invalid_scope.
type Error struct {
	Code    string
	Message string
	// unknown: a resource or scope the index does not know, which a
	// fresher index might.
	unknown bool
}

// Codes of Error.
const (
	CodeInvalidTarget = "invalid_target"
	CodeInvalidScope  = "invalid_scope"
)

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Unknown reports whether err names a resource or scope that a fresher
// index might know, so that a cached index is worth reloading.
func Unknown(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.unknown
}

func targetError(unknown bool, format string, a ...any) error {
	return &Error{Code: CodeInvalidTarget, Message: fmt.Sprintf(format, a...), unknown: unknown}
}

func scopeError(unknown bool, format string, a ...any) error {
	return &Error{Code: CodeInvalidScope, Message: fmt.Sprintf(format, a...), unknown: unknown}
}

// Index answers which resource owns a scope and which resources a client
// may reach. It is immutable; build a new one when resources change.
type Index struct {
	byID  map[string]storage.Resource
	owner map[string]string // scope → resource ID
}

// NewIndex indexes rs.
func NewIndex(rs []storage.Resource) *Index {
	x := &Index{byID: map[string]storage.Resource{}, owner: map[string]string{}}
	for _, r := range rs {
		x.byID[r.ID] = r
		for _, s := range r.Scopes {
			x.owner[s] = r.ID
		}
	}
	return x
}

// Get returns the resource with this identifier.
func (x *Index) Get(id string) (storage.Resource, bool) {
	r, ok := x.byID[id]
	return r, ok
}

// Owner returns the identifier of the resource that owns scope.
func (x *Index) Owner(scope string) (string, bool) {
	id, ok := x.owner[scope]
	return id, ok
}

// Reachable reports whether a client registered with clientScopes may
// reach r: its registered scope includes at least one of r's.
func Reachable(r storage.Resource, clientScopes []string) bool {
	for _, s := range r.Scopes {
		if slices.Contains(clientScopes, s) {
			return true
		}
	}
	return false
}

// Grant decides the resources of a new grant: those requested (RFC 8707),
// or, when none is, those owning the requested scopes (RFC 9068 section 3).
// Each requested resource must be known and reachable by the client, each
// scope must belong to OpenID Connect or to a resource of the grant.
func (x *Index) Grant(requested, scopes, clientScopes []string) ([]string, error) {
	out := []string{}
	for _, id := range requested {
		if err := x.reachable(id, clientScopes); err != nil {
			return nil, err
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	explicit := len(out) > 0
	for _, s := range scopes {
		if IsOIDC(s) {
			continue
		}
		owner, ok := x.owner[s]
		switch {
		case !ok:
			return nil, scopeError(true, "The scope %q belongs to no API resource.", s)
		case explicit && !slices.Contains(out, owner):
			return nil, scopeError(false, "The scope %q belongs to the resource %q, which was not requested.", s, owner)
		case !explicit && !slices.Contains(out, owner):
			out = append(out, owner)
		}
	}
	return out, nil
}

// Narrow decides the resources of one access token of a grant: those
// requested now, which must be among the grant's (RFC 8707 section 2.2),
// or else all of the grant's. Resources deleted, or no longer reachable by
// the client, since the grant was made are left out.
func (x *Index) Narrow(grant, requested, clientScopes []string) ([]string, error) {
	for _, id := range requested {
		if !slices.Contains(grant, id) {
			if err := CheckIdentifier(id); err != nil {
				return nil, targetError(false, "The resource is not valid: %v.", err)
			}
			return nil, targetError(false, "The resource %q is not part of this grant.", id)
		}
	}
	from := grant
	if len(requested) > 0 {
		from = requested
	}
	out := []string{}
	for _, id := range from {
		if slices.Contains(out, id) {
			continue
		}
		if err := x.reachable(id, clientScopes); err != nil {
			if len(requested) > 0 {
				return nil, err
			}
			continue
		}
		out = append(out, id)
	}
	return out, nil
}

func (x *Index) reachable(id string, clientScopes []string) error {
	if err := CheckIdentifier(id); err != nil {
		return targetError(false, "The resource is not valid: %v.", err)
	}
	r, ok := x.byID[id]
	if !ok {
		return targetError(true, "The resource %q is unknown.", id)
	}
	if !Reachable(r, clientScopes) {
		return targetError(false, "The client may not reach the resource %q.", id)
	}
	return nil
}

// Introspects reports whether clientID is an introspection client of a
// resource in aud, the audience of an access token: that resource's API
// may learn whether the token is live and what it holds.
func (x *Index) Introspects(clientID string, aud []string) bool {
	for _, id := range aud {
		if r, ok := x.byID[id]; ok && slices.Contains(r.IntrospectionClients, clientID) {
			return true
		}
	}
	return false
}

// TokenScopes returns the scopes of granted that an access token for the
// resources aud carries: theirs and OpenID Connect's.
func (x *Index) TokenScopes(granted, aud []string) []string {
	out := []string{}
	for _, s := range granted {
		if owner, ok := x.owner[s]; IsOIDC(s) || (ok && slices.Contains(aud, owner)) {
			out = append(out, s)
		}
	}
	return out
}

// AccessTokenTTL returns the shortest lifetime the resources aud ask for,
// or zero when none asks for its own.
func (x *Index) AccessTokenTTL(aud []string) time.Duration {
	var ttl time.Duration
	for _, id := range aud {
		if r, ok := x.byID[id]; ok && r.AccessTokenTTL > 0 && (ttl == 0 || r.AccessTokenTTL < ttl) {
			ttl = r.AccessTokenTTL
		}
	}
	return ttl
}

// Names returns a readable name for each of ids: the resource's name, or
// its identifier when it has none.
func (x *Index) Names(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if r, ok := x.byID[id]; ok && r.Name != "" {
			out = append(out, r.Name)
		} else {
			out = append(out, id)
		}
	}
	return out
}
