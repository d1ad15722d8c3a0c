// Package passkeytest is a software WebAuthn authenticator for tests: it
// answers the options latch's pages hand to navigator.credentials with
// what a platform authenticator would send, so that ceremonies can be
// driven, replayed and tampered with from Go.
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// Authenticator holds one ES256 credential per relying party it registered
// with, the way a platform authenticator holds passkeys.
type Authenticator struct {
	// Origin is the origin the "browser" reports in clientDataJSON.
	Origin string
	// RPID overrides the relying party ID the options name (a passkey
	// made for another site).
	RPID string
	// BackupEligible marks credentials as synced passkeys (BE and BS
	// set); otherwise they are bound to this device.
	BackupEligible bool
	// NoUserVerification clears the UV flag (a key without a PIN).
	NoUserVerification bool
	// Counter is the signature counter of the next assertion, when
	// nonzero; it grows by one with each assertion otherwise kept at 0.
	Counter uint32

	creds []*Credential
}

// Credential is one key pair the authenticator made.
type Credential struct {
	ID         []byte
	RPID       string
	UserHandle []byte
	Key        *ecdsa.PrivateKey
}

// Credentials returns the credentials made so far.
func (a *Authenticator) Credentials() []*Credential { return a.creds }

var b64 = base64.RawURLEncoding

type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
		AllowCredentials []struct {
			ID string `json:"id"`
		} `json:"allowCredentials"`
	} `json:"publicKey"`
}

func (a *Authenticator) clientData(typ, challenge string) []byte {
	cd, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": a.Origin, "crossOrigin": false})
	return cd
}

func (a *Authenticator) flags(attested bool) byte {
	f := byte(0x01) // UP
	if !a.NoUserVerification {
		f |= 0x04
	}
	if a.BackupEligible {
		f |= 0x08 | 0x10
	}
	if attested {
		f |= 0x40
	}
	return f
}

func authData(rpID string, flags byte, counter uint32, extra []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, counter)
	return append(out, extra...)
}

// Create answers creation options (the JSON of protocol.CredentialCreation)
// with a new credential, as the JSON a browser posts.
func (a *Authenticator) Create(optionsJSON []byte) ([]byte, error) {
	var o options
	if err := json.Unmarshal(optionsJSON, &o); err != nil {
		return nil, fmt.Errorf("passkeytest: creation options: %w", err)
	}
	rpID := o.PublicKey.RP.ID
	if a.RPID != "" {
		rpID = a.RPID
	}
	userHandle, err := b64.DecodeString(o.PublicKey.User.ID)
	if err != nil {
		return nil, fmt.Errorf("passkeytest: user id: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	c := &Credential{ID: id, RPID: rpID, UserHandle: userHandle, Key: key}
	a.creds = append(a.creds, c)

	pub, err := key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: pub[1:33], -3: pub[33:65]})
	if err != nil {
		return nil, err
	}
	attested := make([]byte, 16) // AAGUID: none
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(id)))
	attested = append(attested, id...)
	attested = append(attested, cose...)
	ad := authData(rpID, a.flags(true), 0, attested)
	att, err := cbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(id), "rawId": b64.EncodeToString(id), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(a.clientData("webauthn.create", o.PublicKey.Challenge)),
			"attestationObject": b64.EncodeToString(att),
			"transports":        []string{"internal"},
		},
		"clientExtensionResults": map[string]any{},
	})
}

// Get answers request options (the JSON of protocol.CredentialAssertion)
// with an assertion by cred, or by the credential the options allow (the
// first one this authenticator holds) when cred is nil.
func (a *Authenticator) Get(optionsJSON []byte, cred *Credential) ([]byte, error) {
	var o options
	if err := json.Unmarshal(optionsJSON, &o); err != nil {
		return nil, fmt.Errorf("passkeytest: request options: %w", err)
	}
	if cred == nil {
		cred = a.pick(o)
	}
	if cred == nil {
		return nil, fmt.Errorf("passkeytest: no credential for these options")
	}
	if a.Counter > 0 {
		a.Counter++
	}
	ad := authData(cred.RPID, a.flags(false), a.Counter, nil)
	cd := a.clientData("webauthn.get", o.PublicKey.Challenge)
	sum := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), sum[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, cred.Key, digest[:])
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"id": b64.EncodeToString(cred.ID), "rawId": b64.EncodeToString(cred.ID), "type": "public-key",
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(cd),
			"authenticatorData": b64.EncodeToString(ad),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(cred.UserHandle),
		},
		"clientExtensionResults": map[string]any{},
	})
}

func (a *Authenticator) pick(o options) *Credential {
	if len(o.PublicKey.AllowCredentials) == 0 && len(a.creds) > 0 {
		return a.creds[len(a.creds)-1]
	}
	for _, allowed := range o.PublicKey.AllowCredentials {
		for _, c := range a.creds {
			if b64.EncodeToString(c.ID) == allowed.ID {
				return c
			}
		}
	}
	return nil
}
