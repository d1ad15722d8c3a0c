package metadoc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/publicnet"
	"github.com/latch-idp/latch/storage"
)

// Defaults of Options.
const (
	DefaultTimeout     = 5 * time.Second
	DefaultMaxBytes    = 5 << 10 // the draft's suggested limit
	DefaultMinTTL      = 5 * time.Minute
	DefaultMaxTTL      = 24 * time.Hour
	DefaultNegativeTTL = time.Minute
	DefaultMaxEntries  = 1000
	// maxJWKSBytes bounds a private_key_jwt client's key set fetched from
	// its jwks_uri: a few keys, with room for RSA moduli and certificates.
	maxJWKSBytes = 64 << 10
)

// ErrUnresolved is the error of every client ID the Resolver cannot turn
// into a client; the message says why, for the log.
var ErrUnresolved = errors.New("metadoc: no usable client metadata document")

// Options configure a Resolver; zero values take the defaults.
type Options struct {
	// Hosts may serve documents; none means the feature is off.
	Hosts Hosts
	// Transport replaces the transport that connects only to public
	// addresses (publicnet.NewTransport). It exists for tests that serve documents
	// on loopback, which that transport refuses; latch's configuration
	// never sets it from the environment.
	Transport http.RoundTripper
	// Timeout bounds one resolution: the document and its keys.
	Timeout time.Duration
	// MaxBytes bounds a document; a larger one is refused.
	MaxBytes int64
	// A document is cached for its Cache-Control max-age, clamped to
	// [MinTTL, MaxTTL]; a failure for NegativeTTL, so that a bad URL
	// cannot make latch fetch it on every request.
	MinTTL, MaxTTL, NegativeTTL time.Duration
	// MaxEntries bounds the cache; the entry closest to expiry goes first.
	MaxEntries int
	Log        *slog.Logger
}

// Resolver turns client IDs that are https URLs into clients, fetching and
// caching their metadata documents. It is safe for concurrent use;
// concurrent lookups of one URL share one fetch.
type Resolver struct {
	o     Options
	fetch *fetcher
	group singleflight.Group

	mu    sync.Mutex
	cache map[string]entry
}

type entry struct {
	client storage.Client
	err    error
	exp    time.Time
}

// New returns a Resolver; with no allowed host it resolves nothing.
func New(o Options) *Resolver {
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MinTTL <= 0 {
		o.MinTTL = DefaultMinTTL
	}
	if o.MaxTTL < o.MinTTL {
		o.MaxTTL = max(DefaultMaxTTL, o.MinTTL)
	}
	if o.NegativeTTL <= 0 {
		o.NegativeTTL = DefaultNegativeTTL
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Transport == nil {
		o.Transport = publicnet.NewTransport(o.Timeout)
	}
	return &Resolver{o: o, fetch: newFetcher(o.Transport, o.Timeout), cache: map[string]entry{}}
}

// Enabled reports whether any host may serve documents.
func (r *Resolver) Enabled() bool { return r != nil && r.o.Hosts.Enabled() }

// Handles reports whether id is for the Resolver rather than for storage:
// the feature is on and id is an https URL.
func (r *Resolver) Handles(id string) bool { return r.Enabled() && IsURL(id) }

// Client returns the client that the document at id describes, from the
// cache or fetched now. Every failure wraps ErrUnresolved.
func (r *Resolver) Client(ctx context.Context, id string) (storage.Client, error) {
	if !r.Enabled() {
		return storage.Client{}, fmt.Errorf("%w: client metadata documents are off", ErrUnresolved)
	}
	u, err := CheckClientID(id)
	if err != nil {
		return storage.Client{}, fmt.Errorf("%w: %v", ErrUnresolved, err)
	}
	if !r.o.Hosts.Allows(u.Hostname()) {
		return storage.Client{}, fmt.Errorf("%w: host %s is not allowed to serve client metadata documents", ErrUnresolved, u.Hostname())
	}
	if e, ok := r.cached(id); ok {
		return e.client, e.err
	}
	// The fetch is shared by every caller waiting for this URL, so one
	// caller's cancellation must not fail the others; Timeout bounds it.
	v, _, _ := r.group.Do(id, func() (any, error) {
		if e, ok := r.cached(id); ok {
			return e, nil
		}
		e := r.resolve(context.WithoutCancel(ctx), id)
		r.put(id, e)
		return e, nil
	})
	e := v.(entry)
	return e.client, e.err
}

// resolve fetches and checks the document, and the keys it points to.
func (r *Resolver) resolve(ctx context.Context, id string) entry {
	ctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	c, age, err := r.load(ctx, id)
	if err != nil {
		r.o.Log.WarnContext(ctx, "client metadata document refused", "client_id", id, "err", err)
		return entry{err: fmt.Errorf("%w: %s: %v", ErrUnresolved, id, err), exp: time.Now().Add(r.o.NegativeTTL)}
	}
	ttl := min(max(age, r.o.MinTTL), r.o.MaxTTL)
	r.o.Log.InfoContext(ctx, "client metadata document fetched", "client_id", id, "cache_for", ttl.String())
	return entry{client: c, exp: time.Now().Add(ttl)}
}

func (r *Resolver) load(ctx context.Context, id string) (storage.Client, time.Duration, error) {
	doc, err := r.fetch.get(ctx, id, r.o.MaxBytes)
	if err != nil {
		return storage.Client{}, 0, err
	}
	c, err := Validate(id, doc.body)
	if err != nil {
		return storage.Client{}, 0, err
	}
	if c.JWKSURI != "" {
		// fosite would fetch jwks_uri itself, with a client that reaches
		// any address: latch fetches the keys here under the same rules
		// as the document and hands fosite the keys only.
		jwks, err := r.keys(ctx, c.JWKSURI, c.TokenEndpointAuthSigningAlg)
		if err != nil {
			return storage.Client{}, 0, fmt.Errorf("jwks_uri: %w", err)
		}
		c.JWKS, c.JWKSURI = jwks, ""
	}
	return c, doc.maxAge, nil
}

func (r *Resolver) keys(ctx context.Context, raw, alg string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" {
		return "", fmt.Errorf("%q is not an https URL without user information or fragment", raw)
	}
	if !r.o.Hosts.Allows(u.Hostname()) {
		return "", fmt.Errorf("host %s is not allowed to serve client metadata", u.Hostname())
	}
	f, err := r.fetch.get(ctx, raw, maxJWKSBytes)
	if err != nil {
		return "", err
	}
	if err := keys.CheckClientKeySet(f.body, alg); err != nil {
		return "", err
	}
	return string(f.body), nil
}

func (r *Resolver) cached(id string) (entry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.cache[id]
	if !ok || !time.Now().Before(e.exp) {
		return entry{}, false
	}
	return e, true
}

// put stores e, making room first: expired entries go, then the ones
// closest to expiry.
func (r *Resolver) put(id string, e entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.cache[id]; !ok && len(r.cache) >= r.o.MaxEntries {
		now := time.Now()
		for k, v := range r.cache {
			if !now.Before(v.exp) {
				delete(r.cache, k)
			}
		}
		for len(r.cache) >= r.o.MaxEntries {
			var first string
			for k, v := range r.cache {
				if first == "" || v.exp.Before(r.cache[first].exp) {
					first = k
				}
			}
			delete(r.cache, first)
		}
	}
	r.cache[id] = e
}

// Len is the number of cached entries, successes and failures.
func (r *Resolver) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.cache)
}
