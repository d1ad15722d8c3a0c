package provider

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v3"
	"github.com/ory/fosite"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/clients/metadoc"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
)

// client is a registered client as fosite sees it, or one identified by
// the URL of its metadata document.
type client struct {
	FositeClient
	keys *jose.JSONWebKeySet // parsed JWKS, for private_key_jwt
	// fromDocument marks a client that is not registered: its ID is the
	// URL of its metadata document (ClientDocuments). It is always asked
	// for consent, and the consent page says it is not registered.
	fromDocument bool
}

// ClientDocuments resolves the clients that are identified by the URL of
// a Client ID Metadata Document (package clients/metadoc).
type ClientDocuments interface {
	// Enabled reports whether the feature is on (discovery says so).
	Enabled() bool
	// Handles reports whether id is such a URL, to be resolved here
	// rather than looked up in storage.
	Handles(id string) bool
	// Client returns the client the document describes.
	Client(ctx context.Context, id string) (storage.Client, error)
}

var _ ClientDocuments = (*metadoc.Resolver)(nil)

// newClient adapts a stored client, parsing its registered keys once.
func newClient(sc storage.Client) client {
	c := client{FositeClient: FositeClient{Client: sc}}
	if sc.JWKS != "" {
		var set jose.JSONWebKeySet
		if json.Unmarshal([]byte(sc.JWKS), &set) == nil {
			c.keys = &set
		}
	}
	return c
}

var (
	_ fosite.OpenIDConnectClient = client{}
	_ fosite.ResponseModeClient  = client{}
)

func (c client) GetRequestURIs() []string                 { return nil }
func (c client) GetJSONWebKeys() *jose.JSONWebKeySet      { return c.keys }
func (c client) GetJSONWebKeysURI() string                { return c.JWKSURI }
func (c client) GetRequestObjectSigningAlgorithm() string { return "" }
func (c client) GetTokenEndpointAuthMethod() string       { return c.TokenEndpointAuthMethod }
func (c client) GetTokenEndpointAuthSigningAlgorithm() string {
	if c.TokenEndpointAuthSigningAlg == "" {
		return "RS256"
	}
	return c.TokenEndpointAuthSigningAlg
}

// GetScopes adds offline_access for a first-party client that may refresh:
// latch grants it to such clients without their asking (see advance), and
// fosite checks every refresh's scopes against the client's.
func (c client) GetScopes() fosite.Arguments {
	s := c.FositeClient.GetScopes()
	if c.FirstParty && c.GetGrantTypes().Has(clients.GrantRefreshToken) && !s.Has("offline_access") {
		s = append(slices.Clone(s), "offline_access")
	}
	return s
}

// GetResponseModes allows only the query response mode: latch serves the
// authorization code flow, whose response belongs in the query.
func (c client) GetResponseModes() []fosite.ResponseModeType {
	return []fosite.ResponseModeType{fosite.ResponseModeDefault, fosite.ResponseModeQuery}
}

// clientCache keeps clients in process for a short time: the token and
// introspection endpoints look one up on every call. Clients identified by
// a metadata document come from docs, which caches them by its own rules.
type clientCache struct {
	load func(ctx context.Context, id string) (storage.Client, error)
	docs ClientDocuments // nil when the feature is off
	ttl  time.Duration
	mu   sync.Mutex
	m    map[string]cachedClient
}

type cachedClient struct {
	c   client
	exp time.Time
}

func newClientCache(load func(ctx context.Context, id string) (storage.Client, error), docs ClientDocuments, ttl time.Duration) *clientCache {
	return &clientCache{load: load, docs: docs, ttl: ttl, m: map[string]cachedClient{}}
}

// forget drops a client, so that the next lookup loads it anew.
func (cc *clientCache) forget(id string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	delete(cc.m, id)
}

// ClientChanged tells the handler that a client was changed or deleted in
// this process (registration management, the admin API), so that requests
// see the change at once rather than after the cache's lifetime.
func (h *Handler) ClientChanged(id string) { h.fstore.clients.forget(id) }

func (cc *clientCache) get(ctx context.Context, id string) (fosite.Client, error) {
	c, err := cc.getClient(ctx, id)
	if err != nil {
		return nil, err
	}
	return c.withLocalhostRedirect(ctx), nil
}

// requestedRedirectKey carries the redirect_uri of the authorization or
// pushed request being validated (withRequestedRedirect).
type requestedRedirectKey struct{}

// withRequestedRedirect notes r's redirect_uri in ctx, for the client
// lookup fosite makes while it validates r.
func withRequestedRedirect(ctx context.Context, r *http.Request) context.Context {
	if err := r.ParseForm(); err != nil {
		return ctx
	}
	return context.WithValue(ctx, requestedRedirectKey{}, r.Form.Get("redirect_uri"))
}

// withLocalhostRedirect lets a request's redirect URI on localhost match
// a registered localhost URI on another port, as fosite already lets
// 127.0.0.1 and [::1] (RFC 8252 section 7.3; many development tools use
// localhost): the lookup of the client for that request lists the
// requested URI among the registered ones. Every other lookup, and every
// other URI, is left as registered.
func (c client) withLocalhostRedirect(ctx context.Context) client {
	requested, _ := ctx.Value(requestedRedirectKey{}).(string)
	u, err := url.Parse(requested)
	if requested == "" || err != nil || u.Hostname() != "localhost" || slices.Contains(c.RedirectURIs, requested) {
		return c
	}
	if slices.ContainsFunc(c.RedirectURIs, func(r string) bool { return clients.LoopbackRedirectMatch(r, requested) }) {
		c.RedirectURIs = append(slices.Clip(c.RedirectURIs), requested)
	}
	return c
}

func (cc *clientCache) getClient(ctx context.Context, id string) (client, error) {
	if cc.docs != nil && cc.docs.Handles(id) {
		sc, err := cc.docs.Client(ctx, id)
		if err != nil {
			// The client's document is its registration: without a usable
			// one the client is unknown (invalid_client). Why is logged
			// where it was fetched.
			return client{}, fosite.ErrNotFound.WithWrap(err)
		}
		c := newClient(sc)
		c.fromDocument = true
		return c, nil
	}
	now := time.Now()
	if cc.ttl > 0 {
		cc.mu.Lock()
		e, ok := cc.m[id]
		cc.mu.Unlock()
		if ok && now.Before(e.exp) {
			return e.c, nil
		}
	}
	sc, err := cc.load(ctx, id)
	if err != nil {
		if isNotFound(err) {
			return client{}, fosite.ErrNotFound
		}
		return client{}, err
	}
	c := newClient(sc)
	if cc.ttl > 0 {
		cc.mu.Lock()
		if len(cc.m) > 10000 {
			cc.m = map[string]cachedClient{}
		}
		cc.m[id] = cachedClient{c: c, exp: now.Add(cc.ttl)}
		cc.mu.Unlock()
	}
	return c, nil
}

// SecretHasher hashes client secrets with a keyed hash. Generated secrets
// carry 256 bits of entropy, so a slow KDF would buy nothing and cost every
// token request.
type SecretHasher struct{ Box *secret.Box }

const clientSecretPurpose = clients.SecretPurpose

// Hash implements fosite.Hasher.
func (h SecretHasher) Hash(ctx context.Context, data []byte) ([]byte, error) {
	return h.Box.Hash(clientSecretPurpose, data), nil
}

// Compare implements fosite.Hasher in constant time.
func (h SecretHasher) Compare(ctx context.Context, hash, data []byte) error {
	if !h.Box.Verify(clientSecretPurpose, data, hash) {
		return fosite.ErrInvalidClient
	}
	return nil
}
