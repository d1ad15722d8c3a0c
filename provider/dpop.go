package provider

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ory/fosite"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/rs"
	redisstore "github.com/latch-idp/latch/storage/redis"
)

// DPoP (RFC 9449): a client proves, with every token request and every
// call that presents a token, that it holds a private key; the tokens it
// gets are bound to that key (cnf.jkt), so a stolen token is of no use
// without the key. rs.ParseDPoPProof checks a proof's signature and
// shape; this file checks where and when it may be used and binds grants
// to keys.

// The error codes of RFC 9449 (sections 5, 7.1 and 8).
const (
	errCodeInvalidDPoPProof = "invalid_dpop_proof"
	errCodeUseDPoPNonce     = "use_dpop_nonce"
)

// Headers of RFC 9449.
const (
	headerDPoP      = "DPoP"
	headerDPoPNonce = "DPoP-Nonce"
)

// tokenTypeDPoP is the token_type of DPoP-bound access tokens and the
// authentication scheme they are presented with (RFC 9449 section 7.1).
const tokenTypeDPoP = "DPoP"

// paramDPoPJKT binds an authorization code to a key (RFC 9449 section 10).
const paramDPoPJKT = "dpop_jkt"

// noncePeriod is how long a server nonce is current; the one before is
// accepted too, so a nonce works for between one and two periods.
const noncePeriod = 5 * time.Minute

// DefaultDPoPProofWindow is how far a proof's iat may lie from latch's
// clock.
const DefaultDPoPProofWindow = time.Minute

// dpopError is a refused proof: invalid_dpop_proof or use_dpop_nonce.
type dpopError struct{ code, desc string }

func (e *dpopError) Error() string { return e.code + ": " + e.desc }

func invalidProof(format string, a ...any) error {
	return &dpopError{code: errCodeInvalidDPoPProof, desc: fmt.Sprintf(format, a...)}
}

// rfc6749 is the error as the token and PAR endpoints answer it: 400.
func (e *dpopError) rfc6749() *fosite.RFC6749Error {
	return &fosite.RFC6749Error{ErrorField: e.code, DescriptionField: e.desc, CodeField: http.StatusBadRequest}
}

// DPoPReplay remembers the proofs already used (package storage/redis).
type DPoPReplay interface {
	MarkDPoPProof(ctx context.Context, id string, ttl time.Duration) error
}

var _ DPoPReplay = (*redisstore.Store)(nil)

// dpopChecker checks the proofs sent to latch's endpoints.
type dpopChecker struct {
	window time.Duration
	// nonceKeys sign server nonces, newest first; nil when latch does not
	// ask for nonces.
	nonceKeys [][]byte
	replay    DPoPReplay
	now       func() time.Time
}

// check reads the DPoP header of r, if any, and checks it for a request
// to htu (an endpoint's URL), and for accessToken when it is not empty
// (ath), without using it up (spend). A request without the header has no
// proof and no error.
func (d *dpopChecker) check(_ context.Context, r *http.Request, htu, accessToken string) (*rs.DPoPProof, error) {
	values := r.Header.Values(headerDPoP)
	switch {
	case len(values) == 0:
		return nil, nil
	case len(values) > 1:
		return nil, invalidProof("Send one DPoP header.")
	}
	p, err := rs.ParseDPoPProof(values[0])
	if err != nil {
		return nil, invalidProof("%s", err.Error())
	}
	now := d.now()
	switch {
	case p.HTM != r.Method:
		return nil, invalidProof("The DPoP proof's htm is not %s.", r.Method)
	case !rs.SameHTU(p.HTU, htu):
		return nil, invalidProof("The DPoP proof's htu is not %s.", htu)
	case p.IAT.Before(now.Add(-d.window)) || p.IAT.After(now.Add(d.window)):
		return nil, invalidProof("The DPoP proof's iat is more than %s away from the server's time.", d.window)
	case accessToken != "" && p.ATH != rs.AccessTokenHash(accessToken):
		return nil, invalidProof("The DPoP proof's ath does not match the access token.")
	}
	if d.nonceKeys != nil && !d.nonceValid(p.Nonce, now) {
		return nil, &dpopError{code: errCodeUseDPoPNonce, desc: "Sign the DPoP proof with the nonce in the DPoP-Nonce header."}
	}
	return &p, nil
}

// proof is check and spend: a proof checked and used up at once.
func (d *dpopChecker) proof(ctx context.Context, r *http.Request, htu, accessToken string) (*rs.DPoPProof, error) {
	p, err := d.check(ctx, r, htu, accessToken)
	if err != nil || p == nil {
		return p, err
	}
	return p, d.spend(ctx, p)
}

// spend uses a checked proof up (nil: no proof): its jti is remembered,
// per key, for as long as its iat would be accepted, and a proof already
// spent is refused. The token endpoint spends a proof only once the
// client is authenticated and its grant valid, so that no anonymous
// request writes to Redis.
func (d *dpopChecker) spend(ctx context.Context, p *rs.DPoPProof) error {
	if p == nil {
		return nil
	}
	id := sha256.Sum256([]byte(p.JKT + "\x00" + p.JTI))
	err := d.replay.MarkDPoPProof(ctx, base64.RawURLEncoding.EncodeToString(id[:]), 2*d.window+time.Second)
	if errors.Is(err, redisstore.ErrUsed) {
		return invalidProof("The DPoP proof was used before; send a new one with every request.")
	} else if err != nil {
		return fosite.ErrTemporarilyUnavailable.WithWrap(err)
	}
	return nil
}

// nonce is the current server nonce: the period's number and its HMAC,
// so that every replica that shares LATCH_SECRET accepts it and none has
// to store it.
func (d *dpopChecker) nonce() string {
	return nonceFor(d.nonceKeys[0], d.now().Unix()/int64(noncePeriod/time.Second))
}

func nonceFor(key []byte, period int64) string {
	msg := binary.BigEndian.AppendUint64(nil, uint64(period))
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return base64.RawURLEncoding.EncodeToString(m.Sum(msg)[:8+16])
}

// nonceValid accepts the nonce of this period or the one before, under any
// of the secrets (LATCH_SECRET rotation), and of the next one for clocks
// of replicas that run a little ahead.
func (d *dpopChecker) nonceValid(nonce string, now time.Time) bool {
	raw, err := base64.RawURLEncoding.DecodeString(nonce)
	if err != nil || len(raw) != 8+16 {
		return false
	}
	period := int64(binary.BigEndian.Uint64(raw[:8]))
	current := now.Unix() / int64(noncePeriod/time.Second)
	if period < current-1 || period > current+1 {
		return false
	}
	for _, k := range d.nonceKeys {
		if hmac.Equal([]byte(nonceFor(k, period)), []byte(nonce)) {
			return true
		}
	}
	return false
}

// setNonce gives the client the current nonce, when latch asks for them.
func (d *dpopChecker) setNonce(w http.ResponseWriter) {
	if d.nonceKeys != nil {
		w.Header().Set(headerDPoPNonce, d.nonce())
	}
}

// validJKT reports whether s looks like a SHA-256 JWK thumbprint.
func validJKT(s string) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// bindDPoP binds the access token of a token request to the proof's key
// (nil: no proof), after checking the grant's own binding: a code bound
// with dpop_jkt, or a public client's refresh token bound to the key of
// the grant's last token (RFC 9449 section 5: a confidential client's
// refresh tokens are bound to its credentials, not to a key), is redeemed
// only with a proof of that key. A client registered with
// dpop_bound_access_tokens sends a proof with every request.
func bindDPoP(ar fosite.AccessRequester, p *rs.DPoPProof) error {
	sess, ok := ar.GetSession().(*Session)
	if !ok {
		return nil
	}
	bound := sess.JKT
	if ar.GetGrantTypes().ExactOne(clients.GrantRefreshToken) && !ar.GetClient().IsPublic() {
		bound = ""
	}
	c, _ := ar.GetClient().(client)
	switch {
	case p == nil && bound != "":
		return invalidProof("This grant is bound to a DPoP key: send a DPoP proof signed with it.")
	case p == nil && c.DPoPBoundAccessTokens:
		return invalidProof("This client is registered with dpop_bound_access_tokens: send a DPoP proof.")
	case p != nil && bound != "" && p.JKT != bound:
		return fosite.ErrInvalidGrant.WithHint("This grant is bound to another DPoP key than the proof's.")
	}
	sess.JKT = ""
	if p != nil {
		sess.JKT = p.JKT
	}
	return nil
}
