package rs

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// signatureAlgs are the algorithms a token may be signed with: asymmetric
// only, so that neither "none" nor an HMAC keyed with a public key (the
// classic algorithm confusion) can pass.
var signatureAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// keySet is the issuer's public signing keys, cached. A lookup never waits
// for the network unless the key is unknown, and then at most once per
// minRefetch; a key set older than refresh is refetched in the background.
type keySet struct {
	fetch      func(ctx context.Context) ([]byte, error)
	refresh    time.Duration
	minRefetch time.Duration

	mu         sync.RWMutex
	keys       map[string]jose.JSONWebKey // by kid
	loadedAt   time.Time
	attemptAt  time.Time // of the last fetch, successful or not
	refreshing bool

	fetchMu sync.Mutex // one fetch at a time

	// generation counts fetches that dropped a key that was published:
	// tokens verified in an earlier generation are not trusted from a
	// cache.
	generation atomic.Uint64
}

func newKeySet(fetch func(ctx context.Context) ([]byte, error), refresh, minRefetch time.Duration) *keySet {
	return &keySet{fetch: fetch, refresh: refresh, minRefetch: minRefetch}
}

// errUnknownKey: no key of the issuer has the token's kid, even after a
// refetch.
var errUnknownKey = errors.New("unknown signing key")

// key returns the key with this kid.
func (k *keySet) key(ctx context.Context, kid string) (jose.JSONWebKey, error) {
	k.mu.RLock()
	key, ok := k.keys[kid]
	stale := time.Since(k.loadedAt) > k.refresh && !k.refreshing
	k.mu.RUnlock()
	if ok {
		if stale {
			k.refreshInBackground()
		}
		return key, nil
	}
	// An unknown kid: a rotation the cache has not seen, or a forgery.
	// Refetch, unless that was tried a moment ago.
	k.fetchMu.Lock()
	k.mu.RLock()
	key, ok = k.keys[kid]
	recent := time.Since(k.attemptAt) < k.minRefetch
	k.mu.RUnlock()
	if !ok && !recent {
		_ = k.loadLocked(ctx) // a failed refetch leaves the known keys
		k.mu.RLock()
		key, ok = k.keys[kid]
		k.mu.RUnlock()
	}
	k.fetchMu.Unlock()
	if !ok {
		return jose.JSONWebKey{}, errUnknownKey
	}
	return key, nil
}

// touch refreshes the set in the background when it is stale: called on
// every verification, so that even a verifier answering from its token
// cache sees keys withdrawn.
func (k *keySet) touch() {
	k.mu.RLock()
	stale := time.Since(k.loadedAt) > k.refresh && !k.refreshing
	k.mu.RUnlock()
	if stale {
		k.refreshInBackground()
	}
}

func (k *keySet) refreshInBackground() {
	k.mu.Lock()
	if k.refreshing {
		k.mu.Unlock()
		return
	}
	k.refreshing = true
	k.mu.Unlock()
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = k.load(ctx) // on failure the old keys stay, and the next stale lookup tries again
		k.mu.Lock()
		k.refreshing = false
		k.mu.Unlock()
	}()
}

// load fetches the key set now.
func (k *keySet) load(ctx context.Context) error {
	k.fetchMu.Lock()
	defer k.fetchMu.Unlock()
	return k.loadLocked(ctx)
}

func (k *keySet) loadLocked(ctx context.Context) error {
	k.mu.Lock()
	k.attemptAt = time.Now()
	k.mu.Unlock()
	body, err := k.fetch(ctx)
	if err != nil {
		return err
	}
	keys, err := parseKeySet(body)
	if err != nil {
		return err
	}
	k.mu.Lock()
	dropped := false
	for kid := range k.keys {
		if _, ok := keys[kid]; !ok {
			dropped = true
		}
	}
	k.keys, k.loadedAt = keys, time.Now()
	k.mu.Unlock()
	if dropped {
		k.generation.Add(1)
	}
	return nil
}

// parseKeySet keeps the public signing keys of a JWK Set that have a kid.
func parseKeySet(body []byte) (map[string]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("key set is not JSON: %w", err)
	}
	out := map[string]jose.JSONWebKey{}
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if k.UnmarshalJSON(raw) != nil {
			continue // a key of a type go-jose does not know cannot verify anything
		}
		if k.KeyID == "" || (k.Use != "" && k.Use != "sig") || !k.IsPublic() || !asymmetric(k.Key) {
			continue
		}
		out[k.KeyID] = k
	}
	if len(out) == 0 {
		return nil, errors.New("key set has no public signing key")
	}
	return out, nil
}

func asymmetric(key any) bool {
	switch key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return true
	}
	return false
}
