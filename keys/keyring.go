package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
)

// rsaBits is the size of generated RSA keys.
const rsaBits = 2048

// key is one signing key, opened.
type key struct {
	id      string
	alg     string
	priv    crypto.Signer
	pub     crypto.PublicKey
	created time.Time
	active  time.Time
	// retired is the ActiveAt of the next newer key of the same algorithm,
	// zero when there is none. It may lie in the future.
	retired time.Time
}

// published reports whether k is still in the JWKS (and so verifies
// tokens) at now.
func (k *key) published(now time.Time, retain time.Duration) bool {
	return k.retired.IsZero() || now.Before(k.retired.Add(retain))
}

// keyring is an immutable snapshot of the keys; a new one replaces it
// whole.
type keyring struct {
	keys   []*key          // newest ActiveAt first
	byID   map[string]*key // every key, published or not
	newest time.Time       // newest CreatedAt of any key: "since" for CreateSigningKeyUnlessNewer
	jwks   []byte          // the published keys as a JWK Set
	etag   string
	// etagHeader and lengthHeader are the ETag and Content-Length header
	// values of jwks, made once.
	etagHeader, lengthHeader []string
	until                    time.Time // jwks must be rendered again at this instant (a key leaves it); zero: never
	version                  uint64
}

// current returns the signing key of alg at now: the newest key whose
// ActiveAt has come. Keys published ahead take over on their own when their
// time comes, without a reload.
func (r *keyring) current(alg string, now time.Time) *key {
	for _, k := range r.keys {
		if k.alg == alg && !k.active.After(now) {
			return k
		}
	}
	return nil
}

// newKeyring orders ks, works out when each retired and renders the JWKS
// as of now. prev (may be nil) provides the version.
func newKeyring(ks []*key, retain time.Duration, now time.Time, prev *keyring) (*keyring, error) {
	ks = slices.Clone(ks)
	slices.SortFunc(ks, func(a, b *key) int {
		if c := b.active.Compare(a.active); c != 0 {
			return c
		}
		if c := b.created.Compare(a.created); c != 0 {
			return c
		}
		return compareStrings(a.id, b.id)
	})
	r := &keyring{keys: ks, byID: make(map[string]*key, len(ks))}
	next := map[string]*key{} // per algorithm, the key after the one at hand
	for _, k := range ks {
		c := *k // keys are shared between snapshots: never mutate one in place
		c.retired = time.Time{}
		if n := next[c.alg]; n != nil {
			c.retired = n.active
		}
		kp := &c
		next[c.alg] = kp
		r.byID[c.id] = kp
		if c.created.After(r.newest) {
			r.newest = c.created
		}
	}
	for i, k := range ks {
		ks[i] = r.byID[k.id]
	}
	if err := r.render(retain, now, prev); err != nil {
		return nil, err
	}
	return r, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// render fills jwks, etag, until and version as of now.
func (r *keyring) render(retain time.Duration, now time.Time, prev *keyring) error {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	r.until = time.Time{}
	for _, k := range r.keys {
		if !k.published(now, retain) {
			continue
		}
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.pub, KeyID: k.id, Algorithm: k.alg, Use: "sig"})
		if !k.retired.IsZero() {
			if gone := k.retired.Add(retain); r.until.IsZero() || gone.Before(r.until) {
				r.until = gone
			}
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return fmt.Errorf("keys: render JWKS: %w", err)
	}
	sum := sha256.Sum256(b)
	r.jwks = b
	r.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
	r.etagHeader, r.lengthHeader = []string{r.etag}, []string{strconv.Itoa(len(b))}
	r.version = 1
	if prev != nil {
		r.version = prev.version
		if prev.etag != r.etag {
			r.version++
		}
	}
	return nil
}

// sealAD binds a sealed private key to its kid, so that sealed blobs cannot
// be swapped between rows.
func sealAD(kid string) []byte { return []byte("latch signing key v1 " + kid) }

// generate makes a new key of alg and its storage record.
func generate(box *secret.Box, alg string, created, active time.Time) (storage.SigningKey, *key, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, rsaBits)
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return storage.SigningKey{}, nil, fmt.Errorf("keys: unsupported algorithm %q", alg)
	}
	if err != nil {
		return storage.SigningKey{}, nil, fmt.Errorf("keys: generate %s key: %w", alg, err)
	}
	kid := newKID()
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.SigningKey{}, nil, fmt.Errorf("keys: encode %s key: %w", alg, err)
	}
	pubJWK, err := json.Marshal(jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: alg, Use: "sig"})
	if err != nil {
		return storage.SigningKey{}, nil, fmt.Errorf("keys: encode %s public key: %w", alg, err)
	}
	rec := storage.SigningKey{
		ID:         kid,
		Algorithm:  alg,
		PrivateKey: box.Seal(der, sealAD(kid)),
		PublicKey:  pubJWK,
		CreatedAt:  created,
		ActiveAt:   active,
	}
	clear(der)
	return rec, &key{id: kid, alg: alg, priv: priv, pub: priv.Public(), created: created, active: active}, nil
}

// newKID returns a random key ID: 128 bits, base64url. Random rather than a
// thumbprint so that a kid says nothing about the key.
func newKID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

var errWrongKeyType = errors.New("private key does not match its algorithm")

// open turns a stored record into a key. Errors name the kid, never any
// key material.
func open(box *secret.Box, rec storage.SigningKey) (*key, error) {
	der, err := box.Open(rec.PrivateKey, sealAD(rec.ID))
	if err != nil {
		return nil, fmt.Errorf("keys: signing key %s: %w", rec.ID, err)
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		// The parser's message says nothing about the key's content.
		return nil, fmt.Errorf("keys: signing key %s: decode private key: %w", rec.ID, err)
	}
	var priv crypto.Signer
	switch p := parsed.(type) {
	case *rsa.PrivateKey:
		if rec.Algorithm != RS256 || p.N.BitLen() < 2048 {
			return nil, fmt.Errorf("keys: signing key %s (%s): %w", rec.ID, rec.Algorithm, errWrongKeyType)
		}
		priv = p
	case *ecdsa.PrivateKey:
		if rec.Algorithm != ES256 || p.Curve != elliptic.P256() {
			return nil, fmt.Errorf("keys: signing key %s (%s): %w", rec.ID, rec.Algorithm, errWrongKeyType)
		}
		priv = p
	default:
		return nil, fmt.Errorf("keys: signing key %s (%s): %w", rec.ID, rec.Algorithm, errWrongKeyType)
	}
	return &key{
		id:      rec.ID,
		alg:     rec.Algorithm,
		priv:    priv,
		pub:     priv.Public(),
		created: rec.CreatedAt,
		active:  rec.ActiveAt,
	}, nil
}
