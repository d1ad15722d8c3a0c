package provider

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	fositestorage "github.com/ory/fosite/storage"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/clients"
	redisstore "github.com/latch-idp/latch/storage/redis"
)

// The device authorization grant (RFC 8628). A client on a device without
// a usable browser asks the device authorization endpoint for a device
// code and a user code; the user enters the user code at /device in any
// browser, signs in through the login pages and answers a consent page
// that says plainly a device is asking — always, even for first-party
// clients, since that page is where a user who was sent someone else's
// code can still stop. Meanwhile the client polls the token endpoint,
// where deviceGrant, a fosite token endpoint handler, answers
// authorization_pending, slow_down, expired_token or access_denied until
// the grant is approved, and then issues tokens under the code flow's
// rules (resources, scopes, refresh token family, ID token) once.
//
// The state lives in Redis (package storage/redis): the device code only
// as its SHA-256, the user code pointing to it; both live twice the
// device code's lifetime, so that late answers can say it expired.

const (
	defaultDeviceCodeTTL = 10 * time.Minute
	// deviceInterval is the polling interval a client starts with.
	deviceInterval = 5 * time.Second
	// userCodeAlphabet has no vowels (no words) and nothing that reads as
	// another character (0/O, 1/I): RFC 8628 section 6.1's example.
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLength   = 8
	// maxUserCodeInput bounds what the page reads as a user code.
	maxUserCodeInput = 64
)

// Attempts checks a guess of a secret under rate limits
// (accounts.Attempts).
type Attempts interface {
	Check(ctx context.Context, k accounts.Keys, check func(context.Context) (bool, error)) error
}

var _ Attempts = (*accounts.Attempts)(nil)

// The device grant's errors (RFC 8628 section 3.5), answered with 400 as
// RFC 6749 section 5.2 has every token error but invalid_client.
var (
	errAuthorizationPending = &fosite.RFC6749Error{ErrorField: "authorization_pending", DescriptionField: "The user has not yet approved or denied the request.", CodeField: http.StatusBadRequest}
	errSlowDown             = &fosite.RFC6749Error{ErrorField: "slow_down", DescriptionField: "The client polls too often.", CodeField: http.StatusBadRequest}
	errExpiredToken         = &fosite.RFC6749Error{ErrorField: "expired_token", DescriptionField: "The device code has expired.", CodeField: http.StatusBadRequest}
	errDeviceDenied         = &fosite.RFC6749Error{ErrorField: "access_denied", DescriptionField: "The user denied the request.", CodeField: http.StatusBadRequest}
)

// deviceKey is what a device code is kept under: its SHA-256, so that
// Redis never holds a usable device code.
func deviceKey(code string) string {
	sum := sha256.Sum256([]byte(code))
	return hex.EncodeToString(sum[:])
}

// newUserCode returns a random user code, normalized (no dash): 20^8, about
// 2^34.6, codes, guessed only under the page's rate limits.
func newUserCode() string {
	b := make([]byte, 0, userCodeLength)
	buf := make([]byte, 16)
	for len(b) < userCodeLength {
		if _, err := rand.Read(buf); err != nil {
			panic(err)
		}
		for _, c := range buf {
			// 240 is the largest multiple of 20 below 256: no bias.
			if c < 240 && len(b) < userCodeLength {
				b = append(b, userCodeAlphabet[c%20])
			}
		}
	}
	return string(b)
}

// formatUserCode writes a normalized user code as users see it: BCDF-GHJK.
func formatUserCode(code string) string {
	if len(code) != userCodeLength {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// normalizeUserCode reads what a user typed: case, dashes and spaces do
// not matter. ok is false when it cannot be a user code at all.
func normalizeUserCode(in string) (code string, ok bool) {
	if len(in) > maxUserCodeInput {
		return "", false
	}
	var b strings.Builder
	for _, r := range in {
		switch {
		case r == '-' || r == ' ' || r == '\t':
			continue
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		}
		if r > 'Z' || !strings.ContainsRune(userCodeAlphabet, r) {
			return "", false
		}
		b.WriteRune(r)
	}
	if b.Len() != userCodeLength {
		return "", false
	}
	return b.String(), true
}

// deviceAuthorization is RFC 8628's device authorization endpoint. The
// client authenticates as at the token endpoint (a public client names
// itself), must be registered for the device grant, and may ask only for
// its own scopes and resources.
func (h *Handler) deviceAuthorization(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	c, err := h.deviceClient(r)
	if err != nil {
		h.writeAccessError(ctx, w, r, nil, err)
		return
	}
	req := fosite.NewRequest()
	req.Client = c
	req.Session = NewSession("")
	req.Form = url.Values{}
	for k, v := range r.PostForm {
		req.Form[k] = v
	}
	for _, k := range credentialParams {
		req.Form.Del(k)
	}
	scopes := fosite.RemoveEmpty(strings.Split(r.PostForm.Get("scope"), " "))
	for _, s := range scopes {
		if !fosite.ExactScopeStrategy(c.GetScopes(), s) {
			h.writeAccessError(ctx, w, r, nil, fosite.ErrInvalidScope.WithHintf("The client may not ask for the scope %q.", s))
			return
		}
	}
	req.SetRequestedScopes(scopes)
	if err := h.grantResources(ctx, req); err != nil {
		h.writeAccessError(ctx, w, r, nil, err)
		return
	}
	data, err := MarshalRequest(req)
	if err != nil {
		h.writeAccessError(ctx, w, r, nil, fosite.ErrServerError.WithWrap(err))
		return
	}
	deviceCode := rand.Text() + rand.Text()
	userCode, err := h.createDevice(ctx, deviceKey(deviceCode), c.GetID(), data)
	if err != nil {
		h.writeAccessError(ctx, w, r, nil, outage(fosite.ErrTemporarilyUnavailable.WithWrap(err)))
		return
	}
	verify := h.cfg.Issuer + PathDevice
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	json.NewEncoder(w).Encode(map[string]any{
		"device_code":               deviceCode,
		"user_code":                 formatUserCode(userCode),
		"verification_uri":          verify,
		"verification_uri_complete": verify + "?user_code=" + url.QueryEscape(formatUserCode(userCode)),
		"expires_in":                int(h.cfg.DeviceCodeTTL / time.Second),
		"interval":                  int(deviceInterval / time.Second),
	})
}

// deviceClient checks the device authorization request's form as the token
// endpoint checks its own, and authenticates its client, which must be
// registered for the device grant.
func (h *Handler) deviceClient(r *http.Request) (fosite.Client, error) {
	if err := checkProtocolForm(r); err != nil {
		return nil, err
	}
	if err := checkClientNamed(r); err != nil {
		return nil, err
	}
	if err := h.checkClientAssertion(r); err != nil {
		return nil, err
	}
	c, err := h.fosite.AuthenticateClient(r.Context(), r, r.PostForm)
	if err != nil {
		return nil, outage(err)
	}
	if !c.GetGrantTypes().Has(clients.GrantDeviceCode) {
		return nil, fosite.ErrUnauthorizedClient.WithHint("The client is not registered for the device authorization grant.")
	}
	return c, nil
}

// createDevice stores a new device authorization under a fresh user code,
// drawing again on the rare collision with a code still kept.
func (h *Handler) createDevice(ctx context.Context, key, clientID string, data []byte) (string, error) {
	for {
		code := newUserCode()
		err := h.volatile.CreateDevice(ctx, redisstore.NewDevice{
			ID: key, UserCode: code, ClientID: clientID, Interval: deviceInterval,
			Expires: time.Now().Add(h.cfg.DeviceCodeTTL), Request: data, Keep: 2 * h.cfg.DeviceCodeTTL,
		})
		if !errors.Is(err, redisstore.ErrUserCodeTaken) {
			return code, err
		}
	}
}

// deviceGrant serves grant_type urn:ietf:params:oauth:grant-type:device_code
// at the token endpoint, as a fosite token endpoint handler.
type deviceGrant struct {
	volatile Volatile
	store    *fositeStore
	strategy *strategy
	idTokens *openid.IDTokenHandleHelper
	config   interface {
		fosite.AccessTokenLifespanProvider
		fosite.RefreshTokenLifespanProvider
		fosite.IDTokenLifespanProvider
		fosite.RefreshTokenScopesProvider
	}
}

var _ fosite.TokenEndpointHandler = (*deviceGrant)(nil)

func (g *deviceGrant) CanHandleTokenEndpointRequest(ctx context.Context, ar fosite.AccessRequester) bool {
	return ar.GetGrantTypes().ExactOne(clients.GrantDeviceCode)
}

// CanSkipClientAuth is false: a public client names itself with client_id,
// and the device code must have been issued to it.
func (g *deviceGrant) CanSkipClientAuth(ctx context.Context, ar fosite.AccessRequester) bool {
	return false
}

// HandleTokenEndpointRequest is one poll: it enforces the interval and
// takes an approved grant, once, into ar.
func (g *deviceGrant) HandleTokenEndpointRequest(ctx context.Context, ar fosite.AccessRequester) error {
	if !g.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	c := ar.GetClient()
	if !c.GetGrantTypes().Has(clients.GrantDeviceCode) {
		return fosite.ErrUnauthorizedClient.WithHint("The client is not registered for the device authorization grant.")
	}
	code := ar.GetRequestForm().Get("device_code")
	if code == "" {
		return fosite.ErrInvalidRequest.WithHint("The device_code parameter is missing.")
	}
	res, err := g.volatile.PollDevice(ctx, deviceKey(code), c.GetID(), time.Now())
	if err != nil {
		return fosite.ErrTemporarilyUnavailable.WithWrap(err)
	}
	switch res.Outcome {
	case redisstore.PollApproved:
	case redisstore.PollPending:
		return errAuthorizationPending
	case redisstore.PollSlowDown:
		return errSlowDown.WithHintf("Wait at least %d seconds between polls.", int(res.Interval/time.Second))
	case redisstore.PollExpired:
		return errExpiredToken
	case redisstore.PollDenied:
		return errDeviceDenied
	case redisstore.PollRedeemed:
		return fosite.ErrInvalidGrant.WithHint("The device code has already been used.")
	case redisstore.PollWrongClient:
		return fosite.ErrInvalidGrant.WithHint("The device code was issued to another client.")
	default:
		return fosite.ErrInvalidGrant.WithHint("The device code is unknown.")
	}
	grant, err := UnmarshalRequest(res.Grant, ar.GetSession(), c)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	ar.SetRequestedScopes(grant.GetRequestedScopes())
	ar.SetRequestedAudience(grant.GetRequestedAudience())
	ar.SetSession(grant.GetSession())
	ar.SetID(grant.GetID())
	for _, s := range grant.GetGrantedScopes() {
		ar.GrantScope(s)
	}
	for _, a := range grant.GetGrantedAudience() {
		ar.GrantAudience(a)
	}
	now := time.Now().UTC()
	sess := ar.GetSession()
	sess.SetExpiresAt(fosite.AccessToken, now.Add(g.config.GetAccessTokenLifespan(ctx)).Round(time.Second))
	sess.SetExpiresAt(fosite.RefreshToken, now.Add(g.config.GetRefreshTokenLifespan(ctx)).Round(time.Second))
	return nil
}

// PopulateTokenEndpointResponse issues the tokens of an approved grant as
// the code flow does: an access token, a refresh token when
// offline_access was granted to a client that may refresh, and an ID
// token when openid was.
func (g *deviceGrant) PopulateTokenEndpointResponse(ctx context.Context, ar fosite.AccessRequester, resp fosite.AccessResponder) (err error) {
	if !g.CanHandleTokenEndpointRequest(ctx, ar) {
		return fosite.ErrUnknownRequest
	}
	access, accessSig, err := g.strategy.GenerateAccessToken(ctx, ar)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	var refresh, refreshSig string
	if ar.GetGrantedScopes().HasOneOf(g.config.GetRefreshTokenScopes(ctx)...) && ar.GetClient().GetGrantTypes().Has(clients.GrantRefreshToken) {
		if refresh, refreshSig, err = g.strategy.GenerateRefreshToken(ctx, ar); err != nil {
			return fosite.ErrServerError.WithWrap(err)
		}
	}
	if ctx, err = fositestorage.MaybeBeginTx(ctx, g.store); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = fositestorage.MaybeRollbackTx(ctx, g.store)
		}
	}()
	if err = g.store.CreateAccessTokenSession(ctx, accessSig, ar.Sanitize(nil)); err != nil {
		return err
	}
	if refreshSig != "" {
		if err = g.store.CreateRefreshTokenSession(ctx, refreshSig, accessSig, ar.Sanitize(nil)); err != nil {
			return err
		}
	}
	if err = fositestorage.MaybeCommitTx(ctx, g.store); err != nil {
		return err
	}
	resp.SetAccessToken(access)
	resp.SetTokenType("bearer")
	resp.SetExpiresIn(time.Until(ar.GetSession().GetExpiresAt(fosite.AccessToken)).Round(time.Second))
	resp.SetScopes(ar.GetGrantedScopes())
	if refresh != "" {
		resp.SetExtra("refresh_token", refresh)
	}
	if !ar.GetGrantedScopes().Has("openid") {
		return nil
	}
	sess, ok := ar.GetSession().(openid.Session)
	if !ok {
		return fosite.ErrServerError.WithDebug("unexpected session type")
	}
	sess.IDTokenClaims().AccessTokenHash = g.idTokens.GetAccessTokenHash(ctx, ar, resp)
	return g.idTokens.IssueExplicitIDToken(ctx, g.config.GetIDTokenLifespan(ctx), ar, resp)
}
