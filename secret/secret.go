// Package secret derives what latch keeps confidential from the system secret
// (LATCH_SECRET): it seals data at rest (AES-256-GCM) and computes keyed
// hashes (HMAC-SHA-256) of high-entropy values such as client secrets and
// backup codes. Several secrets may be configured, newest first: the newest
// seals and hashes, every one still opens and verifies, so the system secret
// can be rotated.
//
// Nothing here ever logs or returns secret material in an error.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/hkdf"
)

// MinLength is the shortest system secret accepted, in bytes.
const MinLength = 32

// ErrOpen is returned when sealed data cannot be opened with any secret.
var ErrOpen = errors.New("secret: cannot open sealed data (wrong LATCH_SECRET?)")

// Box seals and hashes with the system secrets.
type Box struct {
	aeads []cipher.AEAD
	macs  [][]byte
}

// New returns a Box for secrets, newest first.
func New(secrets ...[]byte) (*Box, error) {
	if len(secrets) == 0 {
		return nil, errors.New("secret: no secret given")
	}
	b := &Box{}
	for i, s := range secrets {
		if len(s) < MinLength {
			return nil, fmt.Errorf("secret %d is %d bytes; at least %d are needed", i+1, len(s), MinLength)
		}
		block, err := aes.NewCipher(derive(s, "latch seal v1"))
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		b.aeads = append(b.aeads, aead)
		b.macs = append(b.macs, derive(s, "latch mac v1"))
	}
	return b, nil
}

func derive(secret []byte, label string) []byte {
	out := make([]byte, 32)
	if _, err := io.ReadFull(hkdf.New(sha256.New, secret, nil, []byte(label)), out); err != nil {
		panic(err) // hkdf never fails for 32 bytes
	}
	return out
}

// Seal encrypts plaintext; ad binds it to its purpose (it must be given
// again to Open).
func (b *Box) Seal(plaintext, ad []byte) []byte {
	aead := b.aeads[0]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	return aead.Seal(nonce, nonce, plaintext, ad)
}

// Open decrypts what Seal made with any configured secret.
func (b *Box) Open(sealed, ad []byte) ([]byte, error) {
	for _, aead := range b.aeads {
		n := aead.NonceSize()
		if len(sealed) < n {
			return nil, ErrOpen
		}
		if pt, err := aead.Open(nil, sealed[:n], sealed[n:], ad); err == nil {
			return pt, nil
		}
	}
	return nil, ErrOpen
}

// SealString seals v's JSON for a page's hidden field or a link: the result
// is URL-safe base64. v must encode (plain data does).
func (b *Box) SealString(v any, ad []byte) string {
	pt, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("secret: seal %T: %v", v, err))
	}
	return base64.RawURLEncoding.EncodeToString(b.Seal(pt, ad))
}

// OpenString opens what SealString made into v. It reports false for
// anything else: malformed, tampered, sealed for another ad, or not v's
// JSON.
func (b *Box) OpenString(s string, ad []byte, v any) bool {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return false
	}
	pt, err := b.Open(raw, ad)
	return err == nil && json.Unmarshal(pt, v) == nil
}

// Hash is the keyed hash of value under the newest secret, with purpose as
// domain separation.
func (b *Box) Hash(purpose string, value []byte) []byte {
	return mac(b.macs[0], purpose, value)
}

// Verify reports, in constant time, whether hash is the keyed hash of value
// under any configured secret.
func (b *Box) Verify(purpose string, value, hash []byte) bool {
	ok := 0
	for _, k := range b.macs {
		ok |= boolInt(hmac.Equal(mac(k, purpose, value), hash))
	}
	return ok == 1
}

func mac(key []byte, purpose string, value []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write(value)
	return h.Sum(nil)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Keys derives one 32-byte key per configured secret for purpose, newest
// first, for libraries that take their own key list (fosite's HMAC tokens).
func (b *Box) Keys(purpose string) [][]byte {
	out := make([][]byte, len(b.macs))
	for i, k := range b.macs {
		out[i] = mac(k, "derive:"+purpose, nil)
	}
	return out
}

// HashAll is the keyed hash of value under every configured secret, newest
// first: to look up a stored hash that an older secret made.
func (b *Box) HashAll(purpose string, value []byte) [][]byte {
	out := make([][]byte, len(b.macs))
	for i, k := range b.macs {
		out[i] = mac(k, purpose, value)
	}
	return out
}
