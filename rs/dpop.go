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
	"errors"
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
// (ath), and never seen before (jti). ParseDPoPProof and SameHTU are the
// one reading of a proof: latch checks the proofs sent to its own
// endpoints with them too.

// dpopAlgs are the proof algorithms accepted, as latch's discovery names
// them (dpop_signing_alg_values_supported).
var dpopAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256}

// DPoPAlgs lists the algorithms of the DPoP proofs accepted, in the order
// latch's discovery shows them (dpop_signing_alg_values_supported).
func DPoPAlgs() []string {
	algs := make([]string, len(dpopAlgs))
	for i, a := range dpopAlgs {
		algs[i] = string(a)
	}
	return algs
}

// Defaults of the DPoP settings of Config.
const (
	DefaultDPoPProofWindow = time.Minute
	DefaultDPoPReplayCache = 100_000
)

// maxProofLength bounds what is parsed at all.
const maxProofLength = 8 << 10

// DPoPProof is a DPoP proof whose signature verified against the key in
// its header.
type DPoPProof struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the proof's key,
	// base64url: what a token bound to the key carries as cnf.jkt.
	JKT        string
	JTI        string
	HTM, HTU   string
	IAT        time.Time
	Nonce, ATH string // empty when the proof has none
}

// ErrInvalidDPoPProof is what every error of ParseDPoPProof matches
// (errors.Is). The error's text says why, in words fit for an
// error_description.
var ErrInvalidDPoPProof = errors.New("rs: invalid DPoP proof")

// badProof is a refused proof and why.
type badProof string

func (e badProof) Error() string        { return string(e) }
func (e badProof) Is(target error) bool { return target == ErrInvalidDPoPProof }

// ParseDPoPProof checks a proof's signature and shape: typ dpop+jwt, an
// accepted alg (never none or HMAC), a public key in the jwk header that
// suits the alg, and the claims jti, htm, htu and iat. Where and when the
// proof may be used (htm, htu, iat, jti, nonce, ath) is for its receiver
// to judge. Its errors match ErrInvalidDPoPProof.
func ParseDPoPProof(proof string) (DPoPProof, error) {
	if len(proof) > maxProofLength {
		return DPoPProof{}, badProof("The DPoP proof is too long.")
	}
	jws, err := jose.ParseSignedCompact(proof, dpopAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return DPoPProof{}, badProof("The DPoP proof is not a JWS signed with an accepted algorithm.")
	}
	h := jws.Signatures[0].Header
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	switch {
	case !strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), "dpop+jwt"):
		return DPoPProof{}, badProof("The DPoP proof's typ is not dpop+jwt.")
	case h.JSONWebKey == nil || !h.JSONWebKey.IsPublic():
		return DPoPProof{}, badProof("The DPoP proof's jwk header is missing or holds a private key.")
	case !keySuits(h.JSONWebKey.Key, h.Algorithm):
		return DPoPProof{}, badProof("The DPoP proof's key does not suit its algorithm.")
	}
	payload, err := jws.Verify(h.JSONWebKey.Key)
	if err != nil {
		return DPoPProof{}, badProof("The DPoP proof's signature is not valid.")
	}
	var c struct {
		JTI   string   `json:"jti"`
		HTM   string   `json:"htm"`
		HTU   string   `json:"htu"`
		IAT   *float64 `json:"iat"`
		ATH   string   `json:"ath"`
		Nonce string   `json:"nonce"`
	}
	if json.Unmarshal(payload, &c) != nil || c.JTI == "" || len(c.JTI) > 256 || c.HTM == "" || c.HTU == "" || c.IAT == nil {
		return DPoPProof{}, badProof("The DPoP proof lacks jti, htm, htu or iat.")
	}
	thumb, err := h.JSONWebKey.Thumbprint(crypto.SHA256)
	if err != nil {
		return DPoPProof{}, badProof("The DPoP proof's key has no thumbprint.")
	}
	return DPoPProof{
		JKT: base64.RawURLEncoding.EncodeToString(thumb),
		JTI: c.JTI, HTM: c.HTM, HTU: c.HTU, ATH: c.ATH, Nonce: c.Nonce,
		IAT: time.Unix(int64(*c.IAT), 0),
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
	p, err := ParseDPoPProof(values[0])
	if err != nil {
		return dpopRefusal("invalid_dpop_proof", description(err))
	}
	now := time.Now()
	window := v.cfg.DPoPProofWindow
	switch {
	case p.HTM != r.Method:
		return dpopRefusal("invalid_dpop_proof", "The DPoP proof's htm is not this request's method.")
	case !SameHTU(p.HTU, v.requestURL(r)):
		return dpopRefusal("invalid_dpop_proof", "The DPoP proof's htu is not this request's URL.")
	case p.IAT.Before(now.Add(-window)) || p.IAT.After(now.Add(window)):
		return dpopRefusal("invalid_dpop_proof", "The DPoP proof's iat is too far from the server's time.")
	case p.ATH != AccessTokenHash(token):
		return dpopRefusal("invalid_dpop_proof", "The DPoP proof's ath does not match the access token.")
	case p.JKT != jkt:
		return dpopRefusal("invalid_token", "The DPoP proof is signed with another key than the access token is bound to.")
	case !v.proofs.first(p.JKT+"\x00"+p.JTI, now.Add(2*window)):
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

// AccessTokenHash is a proof's ath for an access token (RFC 9449 section
// 4.2): the base64url SHA-256 of the token.
func AccessTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// SameHTU compares a proof's htu with the URL of the request it came with
// without their query and fragment (RFC 9449 section 4.3), after RFC 3986
// syntax-based normalisation of the scheme, the host and a default port.
func SameHTU(htu, want string) bool {
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
