package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// CheckClientKeySet checks a client's registered JWK Set (for
// private_key_jwt): valid JSON, at least one key, public keys only, and
// keys fit for alg (RSA of 2048 bits or more for RS256, P-256 for ES256).
func CheckClientKeySet(raw []byte, alg string) error {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return errors.New("not a valid JWK Set")
	}
	if len(set.Keys) == 0 {
		return errors.New("the JWK Set has no keys")
	}
	fit := 0
	for _, k := range set.Keys {
		if !k.IsPublic() {
			return errors.New("the JWK Set must hold public keys only")
		}
		switch key := k.Key.(type) {
		case *rsa.PublicKey:
			if alg == RS256 && key.N.BitLen() >= 2048 {
				fit++
			}
		case *ecdsa.PublicKey:
			if alg == ES256 && key.Curve == elliptic.P256() {
				fit++
			}
		}
	}
	if fit == 0 {
		return fmt.Errorf("the JWK Set has no key usable with %s", alg)
	}
	return nil
}
