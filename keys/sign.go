package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// sign signs payload as a compact JWS (RFC 7515) with typ and the extra
// headers. kid and alg always come from the key: header entries that would
// choose the verification key or algorithm are dropped.
//
// The JWS is put together here rather than by go-jose, which builds a
// signer, its options and a JSON object model for every token: that was
// about a third of what minting an ES256 token cost. The signature itself
// is the standard library's; go-jose (and every client) verifies it.
func (k *key) sign(payload []byte, typ string, extra map[string]any) (string, error) {
	header, err := k.header(typ, extra)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	input := make([]byte, 0, enc.EncodedLen(len(header))+1+enc.EncodedLen(len(payload))+1+enc.EncodedLen(512))
	input = enc.AppendEncode(input, header)
	input = append(input, '.')
	input = enc.AppendEncode(input, payload)
	sig, err := k.signature(input)
	if err != nil {
		return "", fmt.Errorf("keys: sign with key %s: %w", k.id, err)
	}
	input = append(input, '.')
	return string(enc.AppendEncode(input, sig)), nil
}

// jwsHeader is the protected header of a token without extra entries.
type jwsHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// header is the JSON of the protected header.
func (k *key) header(typ string, extra map[string]any) ([]byte, error) {
	h := map[string]any(nil)
	for name, v := range extra {
		if reservedHeader[name] {
			continue
		}
		if h == nil {
			h = map[string]any{}
		}
		h[name] = v
	}
	var (
		b   []byte
		err error
	)
	if h == nil {
		b, err = json.Marshal(jwsHeader{Alg: k.alg, Kid: k.id, Typ: typ})
	} else {
		h["alg"], h["kid"], h["typ"] = k.alg, k.id, typ
		b, err = json.Marshal(h)
	}
	if err != nil {
		return nil, fmt.Errorf("keys: encode header: %w", err)
	}
	return b, nil
}

// signature signs input with the key: RSASSA-PKCS1-v1_5 with SHA-256 for
// RS256, and for ES256 ECDSA P-256 with SHA-256 as R and S of 32 bytes each
// (RFC 7518 section 3.4).
func (k *key) signature(input []byte) ([]byte, error) {
	digest := sha256.Sum256(input)
	switch k.alg {
	case RS256:
		return k.priv.Sign(rand.Reader, digest[:], crypto.SHA256)
	case ES256:
		priv, ok := k.priv.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("an %s key is a %T", ES256, k.priv)
		}
		r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
		if err != nil {
			return nil, err
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig, nil
	}
	return nil, fmt.Errorf("unsupported algorithm %q", k.alg)
}
