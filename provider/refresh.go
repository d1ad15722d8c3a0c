package provider

import (
	"context"
	"log/slog"
	"time"

	"github.com/ory/fosite"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/telemetry"
)

// This file answers "how long does a refresh token live, and when is
// presenting it reuse?".
//
//   - Every use rotates the token (fosite's refresh handler): the old one
//     is deactivated, not deleted, and a new one of the same family issued.
//   - A token unused for the idle lifetime (LATCH_REFRESH_TOKEN_IDLE_TTL,
//     fosite's RefreshTokenLifespan) expires; no token of a family outlives
//     the absolute lifetime (LATCH_REFRESH_TOKEN_TTL) after the family's
//     first grant.
//   - A token rotated (not revoked) less than the grace period ago
//     (LATCH_REFRESH_GRACE_PERIOD) is honoured again; the durable store
//     measures the period with its own clock, the one that stamped the
//     rotation, so replicas with skewed clocks agree.
//   - Presenting a rotated token after that, at the token endpoint, by the
//     client it was issued to, is reuse, taken as theft: reuse revokes the
//     family (or, with LATCH_REFRESH_REUSE_REVOKES=user, everything of the
//     user) in one transaction with an audit event and an alert mail, then
//     the access-token sessions.

// Reuse policies for LATCH_REFRESH_REUSE_REVOKES.
const (
	ReuseRevokesFamily = "family"
	ReuseRevokesUser   = "user"
)

// UserRevoker ends everything a user holds (accounts.Revocation), with fx
// written in the same write as the refresh tokens' revocation.
type UserRevoker interface {
	RevokeUserWith(ctx context.Context, userID string, fx storage.Effects) error
}

// refreshPolicy holds the refresh-token settings and what reuse needs
// beyond the stores.
type refreshPolicy struct {
	idle     time.Duration // LATCH_REFRESH_TOKEN_IDLE_TTL, fosite's RefreshTokenLifespan
	absolute time.Duration // LATCH_REFRESH_TOKEN_TTL; 0: none
	grace    time.Duration // LATCH_REFRESH_GRACE_PERIOD
	revokes  string        // LATCH_REFRESH_REUSE_REVOKES: ReuseRevokesFamily or ReuseRevokesUser
	users    UserRevoker   // for ReuseRevokesUser
	log      *slog.Logger
	metrics  *telemetry.Metrics
}

func newRefreshPolicy(cfg Config, users UserRevoker, log *slog.Logger) *refreshPolicy {
	p := &refreshPolicy{
		idle: cfg.RefreshIdleTTL, absolute: cfg.RefreshTokenTTL, grace: cfg.RefreshGracePeriod,
		revokes: cfg.ReuseRevokes, users: users, log: log,
	}
	if p.revokes == "" {
		p.revokes = ReuseRevokesFamily
	}
	// No token outlives the absolute lifetime, so an idle lifetime beyond
	// it (or none) is the absolute lifetime.
	if p.idle == 0 || p.idle > p.absolute {
		p.idle = p.absolute
	}
	return p
}

// tokenRequest is what the token endpoint tells the store adapter about
// the request being served: fosite calls the adapter with the request's
// ctx but no way to say where a call comes from.
type tokenRequest struct {
	ip, userAgent string
	// revoked is the family this request revoked for reuse, so fosite's
	// own revocation of it that follows is not done twice.
	revoked string
}

type tokenRequestKey struct{}

func withTokenRequest(ctx context.Context, tr *tokenRequest) context.Context {
	return context.WithValue(ctx, tokenRequestKey{}, tr)
}

func tokenRequestFrom(ctx context.Context) *tokenRequest {
	tr, _ := ctx.Value(tokenRequestKey{}).(*tokenRequest)
	return tr
}

// CreateRefreshTokenSession stores a new token of req's family. The idle
// lifetime came from fosite; the absolute lifetime counts from the first
// grant of the family.
func (s *fositeStore) CreateRefreshTokenSession(ctx context.Context, signature, accessSignature string, req fosite.Requester) error {
	if sess, ok := req.GetSession().(*Session); ok && !sess.GrantedAt.IsZero() && s.refresh.absolute > 0 {
		limit := sess.GrantedAt.Add(s.refresh.absolute)
		if exp := sess.GetExpiresAt(fosite.RefreshToken); exp.IsZero() || exp.After(limit) {
			sess.SetExpiresAt(fosite.RefreshToken, limit)
		}
	}
	data, err := MarshalRequest(req)
	if err != nil {
		return err
	}
	subject, expires := RefreshFacts(req)
	return fositeError(s.durable.CreateRefreshToken(ctx, storage.RefreshToken{
		Signature: signature, RequestID: req.GetID(), ClientID: req.GetClient().GetID(), UserID: subject,
		AccessSignature: accessSignature, ExpiresAt: expires, Request: data,
	}))
}

// GetRefreshTokenSession reads a refresh token, once: everything that
// follows, reuse included, works from this read. A token that is not
// honoured any more comes back with fosite.ErrInactiveToken, after reuse
// had its say.
func (s *fositeStore) GetRefreshTokenSession(ctx context.Context, signature string, session fosite.Session) (fosite.Requester, error) {
	t, err := s.durable.GetRefreshToken(ctx, signature, s.refresh.grace)
	if err != nil {
		return nil, fositeError(err)
	}
	req, err := s.request(ctx, t.Request, session)
	if err != nil {
		return nil, err
	}
	if t.State.Honoured() {
		return req, nil
	}
	if err := s.reuse(ctx, t); err != nil {
		return nil, fosite.ErrTemporarilyUnavailable.WithWrap(fositeError(err))
	}
	return req, fosite.ErrInactiveToken
}

// DeleteRefreshTokenSession deactivates the token but keeps it, so that a
// later use is still recognised.
func (s *fositeStore) DeleteRefreshTokenSession(ctx context.Context, signature string) error {
	return fositeError(s.durable.DeactivateRefreshToken(ctx, signature))
}

// RotateRefreshToken deactivates the token being exchanged; one in grace
// is left as it is. requestID is the family, which rotation leaves alone.
func (s *fositeStore) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	return fositeError(s.durable.RotateRefreshToken(ctx, signature, s.refresh.grace))
}

// RevokeRefreshToken revokes the family requestID, unless this request
// revoked it for reuse already.
func (s *fositeStore) RevokeRefreshToken(ctx context.Context, requestID string) error {
	if tr := tokenRequestFrom(ctx); tr != nil && tr.revoked == requestID {
		return nil
	}
	return fositeError(s.durable.RevokeRefreshFamily(ctx, requestID, storage.Effects{}))
}

// RevokeAccessToken revokes the access tokens of the family requestID,
// unless this request revoked them for reuse already.
func (s *fositeStore) RevokeAccessToken(ctx context.Context, requestID string) error {
	if tr := tokenRequestFrom(ctx); tr != nil && tr.revoked == requestID {
		return nil
	}
	return s.volatile.RevokeAccessToken(ctx, requestID)
}

// reuse handles a refresh token that is not honoured any more, as it was
// just read (t). fosite then revokes the family of any such token, whoever
// presents it (RevokeRefreshToken, RevokeAccessToken). What is reuse, taken
// as theft, is narrower: a rotated token presented at the token endpoint by
// the client it was issued to (fosite has authenticated the client by
// then). Its whole family is revoked, or with LATCH_REFRESH_REUSE_REVOKES=
// user everything of the user: the refresh tokens in one transaction with
// the audit event and the alert email, the access-token sessions (and, for
// the user policy, the browser sessions) right after. The request
// remembers the family, so fosite's revocation that follows is not done
// twice.
func (s *fositeStore) reuse(ctx context.Context, t storage.RefreshToken) error {
	tr := tokenRequestFrom(ctx)
	if tr == nil || t.State != storage.RefreshRotated {
		return nil
	}
	ar, ok := ctx.Value(fosite.AccessRequestContextKey).(fosite.AccessRequester)
	if !ok || !ar.GetGrantTypes().ExactOne(clients.GrantRefreshToken) || ar.GetClient() == nil || ar.GetClient().GetID() != t.ClientID {
		return nil
	}
	p := s.refresh
	at := time.Now().UTC()
	event := storage.AuditEvent{
		At: at, Kind: "refresh_token_reuse", UserID: t.UserID, ClientID: t.ClientID,
		IP: tr.ip, UserAgent: tr.userAgent, Detail: map[string]string{"revokes": p.revokes, "grant": t.RequestID},
	}
	fx := storage.Effects{Audit: []storage.AuditEvent{event}}
	if t.UserID != "" {
		if u, err := s.durable.GetUser(ctx, t.UserID); err == nil {
			name := t.ClientID
			if c, err := s.clients.getClient(ctx, t.ClientID); err == nil && c.Name != "" {
				name = c.Name
			}
			fx.Mail = append(fx.Mail, storage.MailJob{To: u.Email, Template: "refresh_reuse", Locale: u.Locale, Data: map[string]string{
				"client_name": name, "client_id": t.ClientID, "at": at.Format(time.RFC3339),
				"ip": tr.ip, "user_agent": tr.userAgent,
			}})
		}
	}
	p.log.WarnContext(ctx, "refresh token reuse: revoking", "client_id", t.ClientID, "user_id", t.UserID, "scope", p.revokes)
	p.metrics.RefreshReuse()
	if p.revokes == ReuseRevokesUser && t.UserID != "" {
		if err := p.users.RevokeUserWith(ctx, t.UserID, fx); err != nil {
			return err
		}
	} else {
		if err := s.durable.RevokeRefreshFamily(ctx, t.RequestID, fx); err != nil {
			return err
		}
		if err := s.volatile.RevokeAccessToken(ctx, t.RequestID); err != nil {
			return err
		}
	}
	tr.revoked = t.RequestID
	return nil
}
