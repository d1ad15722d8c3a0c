package rs

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Config says which issuer's tokens an API accepts, and for which
// audience.
type Config struct {
	// Issuer is the authorization server's issuer URL (latch's
	// LATCH_ISSUER); tokens must carry it as iss exactly.
	Issuer string
	// Audience is this API's resource identifier as registered with latch
	// (latch resources create); tokens must hold it in aud.
	Audience string
	// Name is the API's name in its metadata document (resource_name).
	Name string
	// Scopes are the scopes this API understands, published in its
	// metadata document (scopes_supported).
	Scopes []string
	// Realm is the realm of WWW-Authenticate challenges; default Audience.
	Realm string
	// Leeway is the clock skew allowed for exp, nbf and iat; default 30s.
	Leeway time.Duration
	// HTTPClient fetches discovery, keys and introspection; default a
	// client with a 10-second timeout.
	HTTPClient *http.Client
	// RefreshInterval is how old the cached key set may grow before it is
	// refetched (in the background; requests do not wait); default 15m.
	RefreshInterval time.Duration
	// MinRefetchInterval is how often, at most, a token signed by an
	// unknown key makes the verifier refetch the key set; default 5s.
	MinRefetchInterval time.Duration
	// JWKS, when set, supplies the issuer's JSON Web Key Set in place of
	// discovery and the jwks_uri: for a server that verifies its own
	// tokens in process. It is called again whenever a key is unknown.
	JWKS func(ctx context.Context) ([]byte, error)
	// Introspection turns on strict mode: each token is also introspected.
	Introspection *Introspection
	// PublicOrigin is the scheme, host and port clients address this API
	// by (https://api.example.com), against which the htu of DPoP proofs
	// is checked; default the scheme and Host of each request, which is
	// wrong behind a reverse proxy that changes them.
	PublicOrigin string
	// DPoPProofWindow is how far a DPoP proof's iat may lie from this
	// server's clock; default 1m.
	DPoPProofWindow time.Duration
	// DPoPReplayCache is how many DPoP proofs are remembered, so that none
	// is accepted twice; default 100000. When it is full the oldest are
	// forgotten first.
	DPoPReplayCache int
}

// Introspection is strict mode: after a token is verified offline, it is
// introspected (RFC 7662) with the credentials of a client the API's
// resource lists in introspection_clients, so that a revoked token is
// refused within CacheTTL.
type Introspection struct {
	ClientID     string
	ClientSecret string
	// CacheTTL is how long an active answer is trusted; default 5s.
	CacheTTL time.Duration
	// Endpoint is the introspection endpoint; default the one discovery
	// names. Required with Config.JWKS.
	Endpoint string
}

// Verifier verifies latch's access tokens for one API. It is safe for
// concurrent use.
type Verifier struct {
	cfg         Config
	client      *http.Client
	realm       string
	metadataURL string
	keys        *keySet
	verified    tokenCache
	proofs      *replayCache
	introspect  *introspector // nil unless strict
}

// Defaults of Config.
const (
	DefaultLeeway             = 30 * time.Second
	DefaultRefreshInterval    = 15 * time.Minute
	DefaultMinRefetchInterval = 5 * time.Second
	DefaultIntrospectionTTL   = 5 * time.Second
)

// New checks cfg, discovers the issuer (unless cfg.JWKS is set) and fetches
// its keys. It fails when the issuer cannot be reached, so that an API
// that starts misconfigured says so at once. ctx bounds only these first
// requests.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg, client: cfg.HTTPClient, realm: cfg.Realm, proofs: newReplayCache(cfg.DPoPReplayCache)}
	if v.client == nil {
		v.client = &http.Client{Timeout: 10 * time.Second}
	}
	if v.realm == "" {
		v.realm = cfg.Audience
	}
	v.metadataURL = metadataURL(cfg.Audience)
	fetch := cfg.JWKS
	endpoint := ""
	if fetch == nil {
		doc, err := discover(ctx, v.client, cfg.Issuer)
		if err != nil {
			return nil, err
		}
		endpoint = doc.IntrospectionEndpoint
		fetch = func(ctx context.Context) ([]byte, error) { return get(ctx, v.client, doc.JWKSURI, 1<<20) }
	}
	v.keys = newKeySet(fetch, cfg.RefreshInterval, cfg.MinRefetchInterval)
	if err := v.keys.load(ctx); err != nil {
		return nil, fmt.Errorf("rs: keys of %s: %w", cfg.Issuer, err)
	}
	if in := cfg.Introspection; in != nil {
		if in.Endpoint != "" {
			endpoint = in.Endpoint
		}
		if endpoint == "" {
			return nil, errors.New("rs: Introspection.Endpoint is required: the issuer names no introspection endpoint")
		}
		v.introspect = newIntrospector(v.client, endpoint, *in)
	}
	return v, nil
}

func (c *Config) check() error {
	var errs []error
	if u, err := url.Parse(c.Issuer); c.Issuer == "" || err != nil || !u.IsAbs() || u.Host == "" {
		errs = append(errs, errors.New("rs: Config.Issuer must be the issuer's absolute URL"))
	}
	if u, err := url.Parse(c.Audience); c.Audience == "" || err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" {
		errs = append(errs, errors.New("rs: Config.Audience must be the API's resource identifier, an absolute URI without a fragment"))
	}
	if in := c.Introspection; in != nil && (in.ClientID == "" || in.ClientSecret == "") {
		errs = append(errs, errors.New("rs: Config.Introspection needs the API's ClientID and ClientSecret"))
	}
	if u, err := url.Parse(c.PublicOrigin); c.PublicOrigin != "" && (err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "") {
		errs = append(errs, errors.New("rs: Config.PublicOrigin must be a scheme, host and port, such as https://api.example.com"))
	}
	if c.DPoPProofWindow <= 0 {
		c.DPoPProofWindow = DefaultDPoPProofWindow
	}
	if c.DPoPReplayCache <= 0 {
		c.DPoPReplayCache = DefaultDPoPReplayCache
	}
	if c.Leeway == 0 {
		c.Leeway = DefaultLeeway
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = DefaultRefreshInterval
	}
	if c.MinRefetchInterval <= 0 {
		c.MinRefetchInterval = DefaultMinRefetchInterval
	}
	return errors.Join(errs...)
}

// providerMetadata is what the verifier reads of the issuer's discovery
// document (OpenID Connect Discovery, RFC 8414).
type providerMetadata struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	IntrospectionEndpoint string `json:"introspection_endpoint"`
}

// discover reads the issuer's metadata: OpenID Connect discovery, or RFC
// 8414 authorization server metadata when that is all the issuer serves.
func discover(ctx context.Context, client *http.Client, issuer string) (providerMetadata, error) {
	base := strings.TrimRight(issuer, "/")
	var errs []error
	for _, path := range []string{"/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"} {
		body, err := get(ctx, client, base+path, 1<<20)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var doc providerMetadata
		if err := json.Unmarshal(body, &doc); err != nil {
			return doc, fmt.Errorf("rs: discovery of %s: not JSON: %w", issuer, err)
		}
		if doc.Issuer != issuer {
			return doc, fmt.Errorf("rs: discovery of %s names the issuer %q; they must be equal", issuer, doc.Issuer)
		}
		if doc.JWKSURI == "" {
			return doc, fmt.Errorf("rs: discovery of %s names no jwks_uri", issuer)
		}
		return doc, nil
	}
	return providerMetadata{}, fmt.Errorf("rs: discovery of %s: %w", issuer, errors.Join(errs...))
}

// get fetches url and returns at most limit bytes of a 200 answer.
func get(ctx context.Context, client *http.Client, url string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", url, limit)
	}
	return body, nil
}

// tokenCache remembers verified tokens, by their SHA-256, until they
// expire or a key is withdrawn from the issuer's set (a new generation):
// an API sees the same token on every call of a session, and its
// signature need not be checked again.
type tokenCache struct {
	mu sync.Mutex
	m  map[[32]byte]cachedClaims
}

type cachedClaims struct {
	c          *Claims
	generation uint64
}

// maxCached bounds the cache; when full it starts over.
const maxCached = 10_000

func (c *tokenCache) get(token string, now time.Time, generation uint64) (*Claims, bool) {
	key := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || e.generation != generation || !now.Before(e.c.ExpiresAt) {
		return nil, false
	}
	return e.c, true
}

func (c *tokenCache) put(token string, cl *Claims, generation uint64) {
	key := sha256.Sum256([]byte(token))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[[32]byte]cachedClaims)
	}
	c.m[key] = cachedClaims{c: cl, generation: generation}
}
