package provider

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ory/fosite"
	"golang.org/x/sync/singleflight"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/storage"
)

// Audiences (RFC 8707, RFC 9068 section 3). A grant is for the API
// resources the client asked for with the resource parameter, or else for
// those owning the scopes it asked for (package resources decides); each
// access token is for those resources, or fewer when the token request
// names some, and carries only their scopes and OpenID Connect's. Tokens
// with the openid scope, and tokens of no resource, are also for userinfo.

// resourceCache keeps the resource index for a short time: every
// authorization and token request consults it. A request naming a resource
// or scope the index does not know reloads it first, so that a resource
// is usable as soon as it is created.
type resourceCache struct {
	load func(ctx context.Context) ([]storage.Resource, error)
	ttl  time.Duration

	mu  sync.Mutex // guards the fields below, never held across a load
	idx *resources.Index
	at  time.Time // when the load of idx started: it holds what existed then
	gen uint64    // counts forget calls: a load that straddles one is not kept

	loads singleflight.Group // requests that miss together share one load
}

// get returns an index whose load started after since, within the cache's
// lifetime. Requests never wait on each other for a fresh index; those that
// need a new one share one load.
func (c *resourceCache) get(ctx context.Context, since time.Time) (*resources.Index, error) {
	for range 2 { // a shared load that started before since does not do
		c.mu.Lock()
		idx, at := c.idx, c.at
		c.mu.Unlock()
		if idx != nil && at.After(since) && time.Since(at) < c.ttl {
			return idx, nil
		}
		v, err, _ := c.loads.Do("resources", func() (any, error) { return c.reload(ctx) })
		if err != nil {
			return nil, err
		}
		if l := v.(loaded); l.at.After(since) {
			return l.idx, nil
		}
	}
	l, err := c.reload(ctx)
	return l.idx, err
}

type loaded struct {
	idx *resources.Index
	at  time.Time
}

// reload loads the resources and keeps them unless forget was called
// meanwhile.
func (c *resourceCache) reload(ctx context.Context) (loaded, error) {
	c.mu.Lock()
	gen := c.gen
	c.mu.Unlock()
	start := time.Now()
	// Not the caller's ctx alone: other requests may share this load.
	rs, err := c.load(context.WithoutCancel(ctx))
	if err != nil {
		return loaded{}, err
	}
	l := loaded{idx: resources.NewIndex(rs), at: start}
	c.mu.Lock()
	if c.gen == gen {
		c.idx, c.at = l.idx, l.at
	}
	c.mu.Unlock()
	return l, nil
}

// forget drops the index: the next request loads the resources anew.
func (c *resourceCache) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.idx = nil
	c.gen++
}

// ResourcesChanged tells the handler that API resources were changed in
// this process (the admin API), so that requests see the change at once
// rather than after the cache's lifetime. Changes made elsewhere (the CLI)
// are seen within that lifetime, or at once for a new resource or scope.
func (h *Handler) ResourcesChanged() { h.resources.forget() }

// withBuiltIn adds latch's own admin API to the stored resources; it
// shadows a stored resource of the same identifier.
func withBuiltIn(load func(ctx context.Context) ([]storage.Resource, error), adminAPI string) func(ctx context.Context) ([]storage.Resource, error) {
	if adminAPI == "" {
		return load
	}
	return func(ctx context.Context) ([]storage.Resource, error) {
		rs, err := load(ctx)
		if err != nil {
			return nil, err
		}
		rs = slices.DeleteFunc(rs, func(r storage.Resource) bool { return r.ID == adminAPI })
		return append(rs, resources.Admin(adminAPI)), nil
	}
}

// withIndex runs fn with the resource index and, when fn fails on a
// resource or scope the index does not know, once more with a fresh one.
func (c *resourceCache) withIndex(ctx context.Context, fn func(*resources.Index) error) error {
	start := time.Now()
	idx, err := c.get(ctx, time.Time{})
	if err != nil {
		return fosite.ErrTemporarilyUnavailable.WithWrap(err)
	}
	err = fn(idx)
	if !resources.Unknown(err) {
		return targetError(err)
	}
	if idx, err = c.get(ctx, start); err != nil {
		return fosite.ErrTemporarilyUnavailable.WithWrap(err)
	}
	return targetError(fn(idx))
}

// targetError turns package resources' errors into RFC 6749 errors.
func targetError(err error) error {
	var re *resources.Error
	if !errors.As(err, &re) {
		return err
	}
	if re.Code == resources.CodeInvalidScope {
		return fosite.ErrInvalidScope.WithHint(re.Message)
	}
	return (&fosite.RFC6749Error{
		ErrorField:       resources.CodeInvalidTarget,
		DescriptionField: "The requested resource is invalid, missing, unknown, or malformed.",
		CodeField:        http.StatusBadRequest,
	}).WithHint(re.Message)
}

// grantResources decides the resources of an authorization request and
// grants them to it: at the authorization endpoint and for pushed
// requests, so that a bad resource is refused before the user signs in.
func (h *Handler) grantResources(ctx context.Context, ar fosite.Requester) error {
	var grant []string
	err := h.resources.withIndex(ctx, func(idx *resources.Index) error {
		var err error
		grant, err = idx.Grant(ar.GetRequestForm()["resource"], ar.GetRequestedScopes(), ar.GetClient().GetScopes())
		return err
	})
	if err != nil {
		return err
	}
	for _, id := range grant {
		ar.GrantAudience(id)
	}
	return nil
}

// apiNames names the resources of an authorization request for the
// consent page.
func (h *Handler) apiNames(ctx context.Context, ar fosite.Requester) []string {
	idx, err := h.resources.get(ctx, time.Time{})
	if err != nil {
		return ar.GetGrantedAudience()
	}
	return idx.Names(ar.GetGrantedAudience())
}

// targetAccessToken decides the resources of the access token a token
// request is about to get, and its lifetime: the shortest of what the
// server and those resources allow. A client_credentials request makes
// its grant here; code and refresh grants were made at authorization.
func (h *Handler) targetAccessToken(ctx context.Context, ar fosite.AccessRequester) error {
	sess, ok := ar.GetSession().(*Session)
	if !ok {
		return fosite.ErrServerError.WithDebug("unexpected session type")
	}
	requested := ar.GetRequestForm()["resource"]
	clientScopes := ar.GetClient().GetScopes()
	cc := ar.GetGrantTypes().ExactOne(clients.GrantClientCredentials)
	return h.resources.withIndex(ctx, func(idx *resources.Index) error {
		grant := sess.Resources
		if cc {
			var err error
			if grant, err = idx.Grant(requested, ar.GetRequestedScopes(), clientScopes); err != nil {
				return err
			}
		}
		aud, err := idx.Narrow(grant, requested, clientScopes)
		if err != nil {
			return err
		}
		if cc {
			sess.Resources = grant
			for _, id := range grant {
				ar.GrantAudience(id)
			}
		}
		sess.Audience = aud
		if ttl := idx.AccessTokenTTL(aud); ttl > 0 {
			if exp := time.Now().UTC().Add(ttl).Round(time.Second); exp.Before(sess.GetExpiresAt(fosite.AccessToken)) {
				sess.SetExpiresAt(fosite.AccessToken, exp)
			}
		}
		return nil
	})
}

// tokenScopes returns the scopes an access token for audience carries,
// out of the grant's.
func (c *resourceCache) tokenScopes(ctx context.Context, granted, audience []string) ([]string, error) {
	idx, err := c.get(ctx, time.Time{})
	if err != nil {
		return nil, err
	}
	return idx.TokenScopes(granted, audience), nil
}

// userinfoAudience is the audience of the tokens userinfo serves.
func userinfoAudience(issuer string) string { return issuer + PathUserinfo }

// accessTokenAudience is the aud of an access token for resources with
// scopes: the resources, and userinfo for a token with the openid scope or
// of no resource at all.
func accessTokenAudience(issuer string, res, scopes []string) []string {
	aud := slices.Clone(res)
	if len(aud) == 0 || slices.Contains(scopes, resources.ScopeOpenID) {
		aud = append(aud, userinfoAudience(issuer))
	}
	return aud
}

// tokenView is what an issued access token says of itself (its aud and
// scope), read back from its stored session; introspection and userinfo
// answer with it. Sessions stored before audiences existed fall back to the
// grant's scopes.
func tokenView(issuer string, ar fosite.Requester) (aud, scopes []string) {
	scopes = ar.GetGrantedScopes()
	var res []string
	if sess, ok := ar.GetSession().(*Session); ok {
		res = sess.Audience
		if sess.Scope != nil {
			scopes = sess.Scope
		}
	}
	return accessTokenAudience(issuer, res, scopes), scopes
}

// anyAudience matches every audience. latch decides audiences itself
// (grantResources, targetAccessToken) from the resource parameter; fosite's
// own audience check, which a refresh runs against the client's registered
// audiences, would refuse every grant with a resource. fosite's audience
// parameter is refused before it is read (checkAuthorizeRequest,
// checkTokenForm).
func anyAudience(haystack, needle []string) error { return nil }
