package keys

// This file reads DPoP proofs (RFC 9449 section 4): JWTs a client signs
// with a key of its own, whose public half travels in the proof's header.
// It checks what the proof says about itself (typ, alg, the key, the
// signature, the claims' types); where and when it may be used (htm, htu,
// iat, jti, nonce, ath) is for the endpoint that receives it to judge.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// TypeDPoP is the typ of a DPoP proof (RFC 9449 section 4.2).
const TypeDPoP = "dpop+jwt"

// EdDSA is the algorithm of Ed25519 keys, which DPoP proofs may use beside
// RS256 and ES256.
const EdDSA = "EdDSA"

// DPoPAlgs lists the algorithms of the DPoP proofs latch accepts, in the
// order discovery shows them (dpop_signing_alg_values_supported).
func DPoPAlgs() []string { return []string{ES256, EdDSA, RS256} }

// minRSABits and maxRSABits bound the RSA keys a proof may be signed
// with: none weaker than 2048 bits, and none so large that checking an
// anonymous proof's signature would cost latch milliseconds (the cost
// grows with the square of the size).
const (
	minRSABits = 2048
	maxRSABits = 4096
)

// maxProofBytes bounds a proof before it is parsed.
const maxProofBytes = 8 << 10

// ErrInvalidProof is wrapped by every error of ParseDPoPProof.
var ErrInvalidProof = errors.New("invalid DPoP proof")

// DPoPProof is a proof whose signature verified against the key in its
// header.
type DPoPProof struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the proof's key,
	// base64url: what an access token bound to the key carries as
	// cnf.jkt.
	JKT   string
	JTI   string
	HTM   string
	HTU   string
	IAT   time.Time
	Nonce string
	// ATH is the base64url SHA-256 of the access token the proof comes
	// with; empty at the token endpoint.
	ATH string
}

// ParseDPoPProof verifies a DPoP proof's signature and shape: typ
// dpop+jwt; alg one of DPoPAlgs (never none or HMAC, which the parser
// refuses before anything else); a public key in the jwk header that
// suits the alg; and the claims jti, htm, htu and iat.
func ParseDPoPProof(proof string) (DPoPProof, error) {
	bad := func(format string, a ...any) (DPoPProof, error) {
		return DPoPProof{}, fmt.Errorf("%w: "+format, append([]any{ErrInvalidProof}, a...)...)
	}
	if len(proof) > maxProofBytes {
		return bad("too long")
	}
	jws, err := jose.ParseSignedCompact(proof, []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA, jose.RS256})
	if err != nil {
		return bad("not a JWS signed with %v", DPoPAlgs())
	}
	if len(jws.Signatures) != 1 {
		return bad("not one signature")
	}
	h := jws.Signatures[0].Header
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ == "" || !sameType(typ, TypeDPoP) {
		return bad("typ is not %s", TypeDPoP)
	}
	jwk := h.JSONWebKey
	if jwk == nil {
		return bad("no jwk header")
	}
	if !jwk.IsPublic() {
		return bad("the jwk header holds a private key")
	}
	if err := keySuits(jwk.Key, h.Algorithm); err != nil {
		return bad("%v", err)
	}
	payload, err := jws.Verify(jwk.Key)
	if err != nil {
		return bad("the signature does not verify")
	}
	var c struct {
		JTI   string   `json:"jti"`
		HTM   string   `json:"htm"`
		HTU   string   `json:"htu"`
		IAT   *float64 `json:"iat"`
		Nonce string   `json:"nonce"`
		ATH   string   `json:"ath"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return bad("the claims are not a JSON object of strings and an iat number")
	}
	switch {
	case c.JTI == "" || len(c.JTI) > 256:
		return bad("jti is missing or longer than 256 characters")
	case c.HTM == "" || c.HTU == "":
		return bad("htm or htu is missing")
	case c.IAT == nil:
		return bad("iat is missing")
	}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return bad("the jwk has no thumbprint")
	}
	return DPoPProof{
		JKT: base64.RawURLEncoding.EncodeToString(thumb),
		JTI: c.JTI, HTM: c.HTM, HTU: c.HTU, Nonce: c.Nonce, ATH: c.ATH,
		IAT: time.Unix(int64(*c.IAT), 0),
	}, nil
}

// keySuits checks that a proof's key is of the kind its alg signs with:
// P-256 for ES256, Ed25519 for EdDSA, RSA of 2048 to 4096 bits for RS256.
func keySuits(key any, alg string) error {
	switch k := key.(type) {
	case *ecdsa.PublicKey:
		if alg == ES256 && k.Curve.Params().Name == "P-256" {
			return nil
		}
	case ed25519.PublicKey:
		if alg == EdDSA {
			return nil
		}
	case *rsa.PublicKey:
		if alg == RS256 && k.N.BitLen() >= minRSABits && k.N.BitLen() <= maxRSABits {
			return nil
		}
	}
	if !slices.Contains(DPoPAlgs(), alg) {
		return fmt.Errorf("alg %q is not accepted", alg)
	}
	return fmt.Errorf("the jwk does not suit alg %s", alg)
}

// AccessTokenHash is a proof's ath for an access token (RFC 9449 section
// 4.2): the base64url SHA-256 of the token.
func AccessTokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
