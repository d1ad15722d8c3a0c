package rs

import (
	"container/list"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// DPoP (RFC 9449): a token latch bound to a client's key (cnf.jkt) is
// accepted only with the DPoP scheme and a proof, signed with that key,
// of this very request (htm, htu), made just now (iat), for this token
// (ath), and never seen before (jti). These are the checks latch makes of
// proofs at its own endpoints (its keys package); this module cannot
// import them, so it makes them itself.

// dpopAlgs are the proof algorithms accepted, as latch's discovery names
// them (dpop_signing_alg_values_supported).
var dpopAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256}

// Defaults of the DPoP settings of Config.
const (
	DefaultDPoPProofWindow = time.Minute
	DefaultDPoPReplayCache = 100_000
)

// maxProofLength bounds what is parsed at all.
const maxProofLength = 8 << 10

// dpopProof is a proof whose signature verified.
type dpopProof struct {
	jkt, jti, htm, htu, ath string
	iat                     time.Time
}

// parseProof checks a proof's signature and shape: typ dpop+jwt, an
// accepted alg, a public key in the jwk header that suits the alg, and the
// claims jti, htm, htu, iat and ath.
func parseProof(proof string) (dpopProof, error) {
	if len(proof) > maxProofLength {
		return dpopProof{}, invalid("The DPoP proof is too long.")
	}
	jws, err := jose.ParseSignedCompact(proof, dpopAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return dpopProof{}, invalid("The DPoP proof is not a JWS signed with an accepted algorithm.")
	}
	h := jws.Signatures[0].Header
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	switch {
	case !strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), "dpop+jwt"):
		return dpopProof{}, invalid("The DPoP proof's typ is not dpop+jwt.")
	case h.JSONWebKey == nil || !h.JSONWebKey.IsPublic():
		return dpopProof{}, invalid("The DPoP proof's jwk header is missing or holds a private key.")
	case !keySuits(h.JSONWebKey.Key, h.Algorithm):
		return dpopProof{}, invalid("The DPoP proof's key does not suit its algorithm.")
	}
	payload, err := jws.Verify(h.JSONWebKey.Key)
	if err != nil {
		return dpopProof{}, invalid("The DPoP proof's signature is not valid.")
	}
	var c struct {
		JTI string   `json:"jti"`
		HTM string   `json:"htm"`
		HTU string   `json:"htu"`
		IAT *float64 `json:"iat"`
		ATH string   `json:"ath"`
	}
	if json.Unmarshal(payload, &c) != nil || c.JTI == "" || len(c.JTI) > 256 || c.HTM == "" || c.HTU == "" || c.IAT == nil {
		return dpopProof{}, invalid("The DPoP proof lacks jti, htm, htu or iat.")
	}
	thumb, err := h.JSONWebKey.Thumbprint(crypto.SHA256)
	if err != nil {
		return dpopProof{}, invalid("The DPoP proof's key has no thumbprint.")
	}
	return dpopProof{
		jkt: base64.RawURLEncoding.EncodeToString(thumb),
		jti: c.JTI, htm: c.HTM, htu: c.HTU, ath: c.ATH,
		iat: time.Unix(int64(*c.IAT), 0),
	}, nil
}

// keySuits checks that a proof's key is of the kind its alg signs with.
func keySuits(key any, alg string) bool {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		return alg == string(jose.ES256) && k.Curve.Params().Name == "P-256"
	case ed25519.PublicKey:
		return alg == string(jose.EdDSA)
	case *rsa.PublicKey:
		// At most 4096 bits: checking a larger key's signature costs
		// milliseconds, for a proof anyone can send.
		return alg == string(jose.RS256) && k.N.BitLen() >= 2048 && k.N.BitLen() <= 4096
	}
	return false
}

// checkDPoP checks the request's proof for the token, bound to jkt.
func (v *Verifier) checkDPoP(r *http.Request, token, jkt string) *refusal {
	values := r.Header.Values("DPoP")
	if len(values) != 1 {
		return dpopRefusal("invalid_dpop_proof", "Send one DPoP proof with the DPoP-bound access token.")
	}
	p, err := parseProof(values[0])
	if err != nil {
		return dpopRefusal("invalid_dpop_proof", description(err))
	}
	sum := sha256.Sum256([]byte(token))
	now := time.Now()
	window := v.cfg.DPoPProofWindow
	switch {
	case p.htm != r.Method:
		return dpopRefusal("invalid_dpop_proof", "The DPoP proof's htm is not this request's method.")
	case !sameURL(p.htu, v.requestURL(r)):
		return dpopRefusal("invalid_dpop_proof", "The DPoP proof's htu is not this request's URL.")
	case p.iat.Before(now.Add(-window)) || p.iat.After(now.Add(window)):
		return dpopRefusal("invalid_dpop_proof", "The DPoP proof's iat is too far from the server's time.")
	case p.ath != base64.RawURLEncoding.EncodeToString(sum[:]):
		return dpopRefusal("invalid_dpop_proof", "The DPoP proof's ath does not match the access token.")
	case p.jkt != jkt:
		return dpopRefusal("invalid_token", "The DPoP proof is signed with another key than the access token is bound to.")
	case !v.proofs.first(p.jkt+"\x00"+p.jti, now.Add(2*window)):
		return dpopRefusal("invalid_dpop_proof", "The DPoP proof was used before; send a new one with every request.")
	}
	return nil
}

func dpopRefusal(code, desc string) *refusal {
	return &refusal{status: http.StatusUnauthorized, code: code, desc: desc, dpop: true}
}

// requestURL is the request's URL as the client addressed it, without the
// query: Config.PublicOrigin and the path, or the scheme and Host the
// request arrived with.
func (v *Verifier) requestURL(r *http.Request) string {
	origin := v.cfg.PublicOrigin
	if origin == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		origin = scheme + "://" + r.Host
	}
	return strings.TrimRight(origin, "/") + r.URL.EscapedPath()
}

// sameURL compares a proof's htu with the request's URL without their
// query and fragment (RFC 9449 section 4.3), after RFC 3986 syntax-based
// normalisation of the scheme, the host and a default port.
func sameURL(htu, want string) bool {
	norm := func(s string) string {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return ""
		}
		scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
		if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
			port = ""
		}
		if port != "" {
			host += ":" + port
		} else if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
		path := u.EscapedPath()
		if path == "" {
			path = "/"
		}
		return scheme + "://" + host + path
	}
	got := norm(htu)
	return got != "" && got == norm(want)
}

// replayCache remembers the proofs seen (by key and jti) until they could
// no longer pass the iat check. It is bounded: when full it forgets the
// oldest proofs first. Every entry lives the same time from when it is
// added, so the oldest are also the first to expire.
type replayCache struct {
	mu    sync.Mutex
	max   int
	seen  map[[32]byte]*list.Element
	order *list.List // of replayEntry, oldest first
}

type replayEntry struct {
	key [32]byte
	exp time.Time
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: map[[32]byte]*list.Element{}, order: list.New()}
}

// first reports whether id is seen for the first time, and remembers it
// until exp.
func (c *replayCache) first(id string, exp time.Time) bool {
	key := sha256.Sum256([]byte(id))
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for e := c.order.Front(); e != nil && now.After(e.Value.(replayEntry).exp); e = c.order.Front() {
		c.forget(e)
	}
	if _, ok := c.seen[key]; ok {
		return false
	}
	for c.order.Len() >= c.max {
		c.forget(c.order.Front())
	}
	c.seen[key] = c.order.PushBack(replayEntry{key: key, exp: exp})
	return true
}

func (c *replayCache) forget(e *list.Element) {
	delete(c.seen, e.Value.(replayEntry).key)
	c.order.Remove(e)
}

// boundKey is the thumbprint a token's cnf claim binds it to (RFC 9449
// section 6.1); empty for a bearer token.
func boundKey(raw map[string]any) (string, bool) {
	cnf, present := raw["cnf"]
	if !present {
		return "", true
	}
	m, ok := cnf.(map[string]any)
	if !ok {
		return "", false
	}
	jkt, ok := m["jkt"].(string)
	return jkt, ok && jkt != ""
}
