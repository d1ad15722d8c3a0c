package rs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"math/big"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// signProof signs a DPoP proof with key under alg, its public half in the
// jwk header (pub: the key shown there).
func signProof(t *testing.T, alg jose.SignatureAlgorithm, key crypto.Signer, pub any, claims map[string]any) string {
	t.Helper()
	opts := &jose.SignerOptions{ExtraHeaders: map[jose.HeaderKey]any{jose.HeaderType: "dpop+jwt", "jwk": jose.JSONWebKey{Key: pub}}}
	return signCompact(t, jose.SigningKey{Algorithm: alg, Key: key}, opts, claims)
}

func proofClaims() map[string]any {
	return map[string]any{"jti": "j1", "htm": "POST", "htu": "https://latch.example/oauth2/token", "iat": time.Now().Unix(), "ath": "h"}
}

// mustKey is a freshly generated key; generation does not fail.
func mustKey[K crypto.Signer](k K, err error) K {
	if err != nil {
		panic(err)
	}
	return k
}

// TestParseDPoPProofAlgorithms pins the algorithms discovery advertises:
// a proof of each verifies, and its JKT is the key's RFC 7638 thumbprint.
func TestParseDPoPProofAlgorithms(t *testing.T) {
	ec := mustKey(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey := mustKey(rsa.GenerateKey(rand.Reader, 2048))
	for alg, key := range map[jose.SignatureAlgorithm]crypto.Signer{jose.ES256: ec, jose.EdDSA: ed, jose.RS256: rsaKey} {
		t.Run("alg="+string(alg), func(t *testing.T) {
			p, err := ParseDPoPProof(signProof(t, alg, key, key.Public(), proofClaims()))
			if err != nil {
				t.Fatal(err)
			}
			thumb, _ := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
			if p.JKT != base64.RawURLEncoding.EncodeToString(thumb) || p.JTI != "j1" || p.HTM != "POST" || p.ATH != "h" {
				t.Errorf("parsed %+v", p)
			}
		})
	}
}

// TestParseDPoPProofRefusesWeakKeys pins that a proof's key must suit its
// alg and be strong enough: no RSA under 2048 bits, no curve but P-256
// for ES256, no key of one kind under another kind's alg.
func TestParseDPoPProofRefusesWeakKeys(t *testing.T) {
	small := mustKey(rsa.GenerateKey(rand.Reader, 1024))
	p384 := mustKey(ecdsa.GenerateKey(elliptic.P384(), rand.Reader))
	cases := map[string]string{
		"RSA 1024":              signProof(t, jose.RS256, small, small.Public(), proofClaims()),
		"P-384 under ES384":     signProof(t, jose.ES384, p384, p384.Public(), proofClaims()),
		"RSA key under PS256":   signProof(t, jose.PS256, small, small.Public(), proofClaims()),
		"claims not an object":  "eyJhbGciOiJub25lIn0.W10.",
		"longer than the limit": string(make([]byte, maxProofLength+1)),
	}
	ec := mustKey(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	c := proofClaims()
	c["iat"] = "now"
	cases["iat a string"] = signProof(t, jose.ES256, ec, ec.Public(), c)
	other := mustKey(ecdsa.GenerateKey(elliptic.P256(), rand.Reader))
	cases["a jwk of another key"] = signProof(t, jose.ES256, ec, other.Public(), proofClaims())
	for name, proof := range cases {
		t.Run("case="+name, func(t *testing.T) {
			if _, err := ParseDPoPProof(proof); !errors.Is(err, ErrInvalidDPoPProof) {
				t.Errorf("ParseDPoPProof: %v, want ErrInvalidDPoPProof", err)
			}
		})
	}
}

// TestParseDPoPProofRefusesHugeRSAKeys pins that an RSA key over 4096 bits
// is refused before its signature is checked, which would cost
// milliseconds for a proof anyone can send (go-jose refuses it when it
// reads the jwk, and keySuits would again).
func TestParseDPoPProofRefusesHugeRSAKeys(t *testing.T) {
	signer := mustKey(rsa.GenerateKey(rand.Reader, 2048))
	huge := &rsa.PublicKey{N: new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 8191), big.NewInt(1)), E: 65537}
	_, err := ParseDPoPProof(signProof(t, jose.RS256, signer, huge, proofClaims()))
	if !errors.Is(err, ErrInvalidDPoPProof) {
		t.Errorf("ParseDPoPProof with an 8192-bit key: %v, want it refused for its size", err)
	}
}
