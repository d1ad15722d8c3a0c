package provider

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	fositestorage "github.com/ory/fosite/storage"

	"github.com/latch-idp/latch/storage"
	redisstore "github.com/latch-idp/latch/storage/redis"
)

// This file is the fosite adapter: the one place where fosite's storage
// interfaces meet latch's stores. It turns fosite's requests into bytes
// (request.go) and the stores' errors into fosite's. Refresh-token policy
// is refresh.go's.

// Durable is what provider calls of the durable store: a part of the one
// storage contract, storage.Store.
type Durable interface {
	GetClient(ctx context.Context, id string) (storage.Client, error)
	GetUser(ctx context.Context, id string) (storage.User, error)
	GetConsent(ctx context.Context, userID, clientID string) (storage.Consent, error)
	ListResources(ctx context.Context) ([]storage.Resource, error)

	BeginTx(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error

	CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error
	GetRefreshToken(ctx context.Context, signature string, grace time.Duration) (storage.RefreshToken, error)
	RotateRefreshToken(ctx context.Context, signature string, grace time.Duration) error
	DeactivateRefreshToken(ctx context.Context, signature string) error
	RevokeRefreshFamily(ctx context.Context, requestID string, fx storage.Effects) error
}

var _ Durable = storage.Store(nil)

// Volatile is what provider calls of the short-lived store (package
// storage/redis): codes, access-token sessions, pushed requests, used
// client assertions and device authorizations, as bytes it serializes
// itself.
type Volatile interface {
	Put(ctx context.Context, kind redisstore.Kind, id string, data []byte, ttl time.Duration) error
	Get(ctx context.Context, kind redisstore.Kind, id string) ([]byte, error)
	Delete(ctx context.Context, kind redisstore.Kind, id string) error
	GetCode(ctx context.Context, signature string) (data []byte, used bool, err error)
	MarkCodeUsed(ctx context.Context, signature string, ttl time.Duration) error
	PutAccessToken(ctx context.Context, signature string, g redisstore.Grant, ttl, indexTTL time.Duration) error
	RevokeAccessToken(ctx context.Context, requestID string) error
	SavePushedRequest(ctx context.Context, requestURI, clientID string, form url.Values, ttl time.Duration) error
	TakePushedRequest(ctx context.Context, requestURI, clientID string) (url.Values, error)
	DeletePushedRequest(ctx context.Context, requestURI string) error
	ClientAssertionUnused(ctx context.Context, jti string) error
	DPoPReplay
	MarkClientAssertion(ctx context.Context, jti string, exp time.Time) error
	CreateDevice(ctx context.Context, d redisstore.NewDevice) error
	Device(ctx context.Context, id string) (redisstore.Device, error)
	DeviceByUserCode(ctx context.Context, userCode string) (redisstore.Device, error)
	DecideDevice(ctx context.Context, id, status string, grant []byte, now time.Time) error
	PollDevice(ctx context.Context, id, clientID string, now time.Time) (redisstore.PollResult, error)
}

var _ Volatile = (*redisstore.Store)(nil)

// fositeStore is the storage fosite sees: refresh tokens and clients in the
// durable store, codes and access-token sessions in the short-lived one.
// Transactions reach the durable store only; short-lived writes are not
// part of them.
type fositeStore struct {
	durable  Durable
	volatile Volatile
	clients  *clientCache
	refresh  *refreshPolicy
	// codeTTL is how long a code's records live: longer than the code's
	// own lifetime, so that a reuse is still recognised after it expired.
	codeTTL time.Duration
	// accessTTL bounds how long an access-token session and its indexes
	// live.
	accessTTL time.Duration
	parTTL    time.Duration
	// decoded keeps access-token grants decoded (decoded.go).
	decoded decodedGrants
}

var (
	_ fosite.ClientManager               = (*fositeStore)(nil)
	_ oauth2.CoreStorage                 = (*fositeStore)(nil)
	_ oauth2.TokenRevocationStorage      = (*fositeStore)(nil)
	_ pkce.PKCERequestStorage            = (*fositeStore)(nil)
	_ openid.OpenIDConnectRequestStorage = (*fositeStore)(nil)
	_ fositestorage.Transactional        = (*fositeStore)(nil)
)

// fositeError turns a store's error into the one fosite acts on.
func fositeError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return fosite.ErrNotFound.WithWrap(err)
	case errors.Is(err, storage.ErrInactive):
		return fosite.ErrInactiveToken.WithWrap(err)
	case errors.Is(err, storage.ErrConflict):
		return fosite.ErrSerializationFailure.WithWrap(err)
	case storage.Unavailable(err):
		return fosite.ErrTemporarilyUnavailable.WithWrap(err)
	}
	return err
}

// outage turns any error that says a store could not be reached, however
// fosite wrapped it (a client lookup becomes invalid_client, a write
// server_error), into temporarily_unavailable (503): an outage is never
// told to a client as wrong credentials or a fault of its request.
func outage(err error) error {
	if storage.Unavailable(err) || errors.Is(err, fosite.ErrTemporarilyUnavailable) {
		return fosite.ErrTemporarilyUnavailable.WithWrap(err)
	}
	return err
}

// isNotFound reports a missing record, in latch's terms or fosite's.
func isNotFound(err error) bool {
	return errors.Is(err, storage.ErrNotFound) || errors.Is(err, fosite.ErrNotFound)
}

func (s *fositeStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	return s.clients.get(ctx, id)
}

// request rebuilds a stored grant with its client as it is now; the grant
// of a deleted client is gone with it.
func (s *fositeStore) request(ctx context.Context, data []byte, session fosite.Session) (*fosite.Request, error) {
	return unmarshalRequest(data, session, func(id string) (fosite.Client, error) { return s.clients.get(ctx, id) })
}

func (s *fositeStore) put(ctx context.Context, kind redisstore.Kind, id string, req fosite.Requester) error {
	data, err := MarshalRequest(req)
	if err != nil {
		return err
	}
	return s.volatile.Put(ctx, kind, id, data, s.codeTTL)
}

func (s *fositeStore) get(ctx context.Context, kind redisstore.Kind, id string, session fosite.Session) (fosite.Requester, error) {
	data, err := s.volatile.Get(ctx, kind, id)
	if err != nil {
		return nil, fositeError(err)
	}
	return s.request(ctx, data, session)
}

// ClientAssertionJWTValid and SetClientAssertionJWT keep private_key_jwt
// assertions single use: each jti is remembered until the assertion
// expires.
func (s *fositeStore) ClientAssertionJWTValid(ctx context.Context, jti string) error {
	return jtiError(s.volatile.ClientAssertionUnused(ctx, jti))
}

func (s *fositeStore) SetClientAssertionJWT(ctx context.Context, jti string, exp time.Time) error {
	return jtiError(s.volatile.MarkClientAssertion(ctx, jti, exp))
}

func jtiError(err error) error {
	if errors.Is(err, redisstore.ErrUsed) {
		return fosite.ErrJTIKnown
	}
	return err
}

// CreateAuthorizeCodeSession stores the grant behind a code.
func (s *fositeStore) CreateAuthorizeCodeSession(ctx context.Context, signature string, req fosite.Requester) error {
	return s.put(ctx, redisstore.Code, signature, req)
}

// GetAuthorizeCodeSession returns the grant behind a code; for a used code
// the grant and fosite.ErrInvalidatedAuthorizeCode.
func (s *fositeStore) GetAuthorizeCodeSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	data, used, err := s.volatile.GetCode(ctx, signature)
	if err != nil {
		return nil, fositeError(err)
	}
	req, err := s.request(ctx, data, session)
	if err != nil {
		return nil, err
	}
	if used {
		return req, fosite.ErrInvalidatedAuthorizeCode
	}
	return req, nil
}

// InvalidateAuthorizeCodeSession marks a code used: of two racing
// exchanges exactly one wins, the loser gets
// fosite.ErrInvalidatedAuthorizeCode.
func (s *fositeStore) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	err := s.volatile.MarkCodeUsed(ctx, signature, s.codeTTL)
	if errors.Is(err, redisstore.ErrUsed) {
		return fosite.ErrInvalidatedAuthorizeCode
	}
	return err
}

func (s *fositeStore) CreatePKCERequestSession(ctx context.Context, signature string, req fosite.Requester) error {
	return s.put(ctx, redisstore.PKCE, signature, req)
}

func (s *fositeStore) GetPKCERequestSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	return s.get(ctx, redisstore.PKCE, signature, session)
}

// DeletePKCERequestSession keeps a code's PKCE challenge: fosite deletes it
// at the first exchange attempt, before it compares the verifier, and an
// attempt after a failed one would then find no challenge and pass as a
// flow that never used PKCE (for a confidential client). The challenge
// expires with the code's record instead, and a redeemed code is refused
// anyway.
func (s *fositeStore) DeletePKCERequestSession(ctx context.Context, signature string) error {
	return nil
}

func (s *fositeStore) CreateOpenIDConnectSession(ctx context.Context, code string, req fosite.Requester) error {
	return s.put(ctx, redisstore.OIDC, code, req)
}

func (s *fositeStore) GetOpenIDConnectSession(ctx context.Context, code string, req fosite.Requester) (fosite.Requester, error) {
	r, err := s.get(ctx, redisstore.OIDC, code, req.GetSession())
	if isNotFound(err) {
		return nil, openid.ErrNoSessionFound
	}
	return r, err
}

func (s *fositeStore) DeleteOpenIDConnectSession(ctx context.Context, code string) error {
	return s.volatile.Delete(ctx, redisstore.OIDC, code)
}

// CreateAccessTokenSession stores an access token's session until the
// token expires, indexed by grant and, for a user's token, by user.
func (s *fositeStore) CreateAccessTokenSession(ctx context.Context, signature string, req fosite.Requester) error {
	data, err := MarshalRequest(req)
	if err != nil {
		return err
	}
	indexTTL := s.accessTTL + time.Minute
	ttl := indexTTL
	if exp := req.GetSession().GetExpiresAt(fosite.AccessToken); !exp.IsZero() {
		if d := time.Until(exp) + time.Minute; d < ttl {
			ttl = d
		}
	}
	g := redisstore.Grant{RequestID: req.GetID(), Data: data}
	if sub := req.GetSession().GetSubject(); sub != req.GetClient().GetID() {
		g.UserID = sub
	}
	return s.volatile.PutAccessToken(ctx, signature, g, ttl, indexTTL)
}

// GetAccessTokenSession returns an access token's session; a revoked or
// expired token is not found. The grant is read every time; its decoding
// is remembered (decodedGrants).
func (s *fositeStore) GetAccessTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	data, err := s.volatile.Get(ctx, redisstore.AccessToken, signature)
	if err != nil {
		return nil, fositeError(err)
	}
	clientOf := func(id string) (fosite.Client, error) { return s.clients.get(ctx, id) }
	if req, ok, err := s.decoded.get(signature, data, session, clientOf); ok {
		return req, err
	}
	fresh := false
	if own, ok := session.(*Session); ok {
		fresh = own.empty()
	}
	req, err := unmarshalRequest(data, session, clientOf)
	if err == nil && fresh {
		s.decoded.add(signature, data, req)
	}
	return req, err
}

func (s *fositeStore) DeleteAccessTokenSession(ctx context.Context, signature string) error {
	return s.volatile.Delete(ctx, redisstore.AccessToken, signature)
}

// BeginTX, Commit and Rollback hand fosite the durable store's
// transactions; a transaction that lost to a concurrent one fails as
// fosite.ErrSerializationFailure, which the token endpoint answers as a
// refused grant, not a server error.
func (s *fositeStore) BeginTX(ctx context.Context) (context.Context, error) {
	ctx, err := s.durable.BeginTx(ctx)
	return ctx, fositeError(err)
}

func (s *fositeStore) Commit(ctx context.Context) error { return fositeError(s.durable.Commit(ctx)) }

func (s *fositeStore) Rollback(ctx context.Context) error {
	return fositeError(s.durable.Rollback(ctx))
}
