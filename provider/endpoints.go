package provider

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/latch-idp/latch/storage"
)

// maxFormBytes bounds the body of protocol requests.
const maxFormBytes = 64 << 10

// token is the token endpoint: authorization_code, refresh_token and
// client_credentials.
func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	sess := storage.NewSession("")
	if err := checkTokenForm(r); err != nil {
		h.writeAccessError(ctx, w, r, nil, err)
		return
	}
	if r.PostFormValue("grant_type") == "refresh_token" {
		if err := h.detectRefreshReuse(ctx, r); err != nil {
			h.logError(ctx, "refresh reuse handling", err)
			h.oauth.WriteAccessError(ctx, w, nil, fosite.ErrTemporarilyUnavailable)
			return
		}
	}
	ar, err := h.oauth.NewAccessRequest(ctx, r, sess)
	if err != nil {
		h.writeAccessError(ctx, w, r, ar, err)
		return
	}
	if ar.GetGrantTypes().ExactOne("client_credentials") {
		cid := ar.GetClient().GetID()
		sess.Subject = cid
		sess.Claims.Subject = cid
		sess.GrantedAt = time.Now().UTC()
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
	}
	resp, err := h.oauth.NewAccessResponse(ctx, ar)
	if err != nil {
		h.writeAccessError(ctx, w, r, ar, err)
		return
	}
	h.oauth.WriteAccessResponse(ctx, w, ar, resp)
}

// checkTokenForm refuses what fosite lets through or answers with the
// wrong error: a body that is not a form, repeated parameters (RFC 6749
// section 3.2), grant types latch does not serve (unsupported_grant_type,
// where fosite says invalid_request), and a request without any client
// authentication (invalid_client, section 5.2).
func checkTokenForm(r *http.Request) error {
	if err := r.ParseMultipartForm(maxFormBytes); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return fosite.ErrInvalidRequest.WithHint("The request body is not a valid form.")
	}
	for k, vs := range r.PostForm {
		if len(vs) > 1 {
			return fosite.ErrInvalidRequest.WithHintf("The parameter %q is repeated.", k)
		}
	}
	switch g := r.PostForm.Get("grant_type"); g {
	case "":
		return fosite.ErrInvalidRequest.WithHint("The grant_type parameter is missing.")
	case "authorization_code", "refresh_token", "client_credentials":
	default:
		return fosite.ErrUnsupportedGrantType.WithHint("Supported grant types are authorization_code, refresh_token and client_credentials.")
	}
	if r.Header.Get("Authorization") == "" && r.PostForm.Get("client_id") == "" {
		return fosite.ErrInvalidClient.WithHint("The client did not authenticate.")
	}
	return nil
}

// writeAccessError answers with RFC 6749 JSON. A code exchange that lost a
// race against another exchange of the same code is invalid_grant, not a
// server error.
// A client that authenticated with HTTP Basic and failed gets a Basic
// challenge (RFC 6749 section 5.2).
func (h *Handler) writeAccessError(ctx context.Context, w http.ResponseWriter, r *http.Request, ar fosite.AccessRequester, err error) {
	switch {
	case errors.Is(err, fosite.ErrInvalidatedAuthorizeCode):
		err = fosite.ErrInvalidGrant.WithHint("The authorization code has already been used.")
	case errors.Is(err, fosite.ErrSerializationFailure):
		err = fosite.ErrInvalidGrant.WithHint("The token was used by a concurrent request.")
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.CodeField >= 500 {
		h.logError(ctx, "token endpoint", err)
	}
	if rfc.CodeField == http.StatusUnauthorized {
		if _, _, basic := r.BasicAuth(); basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="latch"`)
		}
	}
	h.oauth.WriteAccessError(ctx, w, ar, err)
}

// detectRefreshReuse recognises a refresh token that was already rotated
// (outside the grace period) and revokes its whole family, or with
// LATCH_REFRESH_REUSE_REVOKES=user everything of the user: the refresh
// tokens in one transaction with the audit event and the alert email, the
// access-token sessions in Redis right after. fosite then answers
// invalid_grant on its own.
func (h *Handler) detectRefreshReuse(ctx context.Context, r *http.Request) error {
	token := r.PostFormValue("refresh_token")
	if token == "" {
		return nil
	}
	rt, err := h.store.GetRefreshToken(ctx, h.strategy.RefreshTokenSignature(ctx, token))
	if isNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if rt.Active || !rt.RevokedAt.IsZero() || rt.RotatedAt.IsZero() {
		return nil
	}
	if time.Since(rt.RotatedAt) <= h.cfg.RefreshGracePeriod {
		return nil
	}
	// Only an authenticated client sets off a revocation: an old token
	// alone, with a wrong secret, must not let anyone end the user's
	// sessions and send alerts. fosite then refuses the request.
	if _, err := h.authenticator.AuthenticateClient(ctx, r, r.PostForm); err != nil {
		return nil
	}
	return h.revokeForReuse(ctx, rt, clientIP(r), r.UserAgent())
}

func (h *Handler) revokeForReuse(ctx context.Context, rt storage.RefreshToken, ip, ua string) error {
	at := time.Now().UTC()
	event := storage.AuditEvent{
		At: at, Kind: "refresh_token_reuse", UserID: rt.UserID, ClientID: rt.ClientID,
		IP: ip, UserAgent: ua, Detail: map[string]string{"revokes": h.cfg.ReuseRevokes, "grant": rt.RequestID},
	}
	fx := storage.Effects{Audit: []storage.AuditEvent{event}}
	if rt.UserID != "" {
		if u, err := h.store.GetUser(ctx, rt.UserID); err == nil {
			name := rt.ClientID
			if c, err := h.store.GetClient(ctx, rt.ClientID); err == nil && c.Name != "" {
				name = c.Name
			}
			fx.Mail = append(fx.Mail, storage.MailJob{To: u.Email, Template: "refresh_reuse", Data: map[string]string{
				"client_name": name, "client_id": rt.ClientID, "at": at.Format(time.RFC3339),
				"ip": ip, "user_agent": ua,
			}})
		}
	}
	h.log.WarnContext(ctx, "refresh token reuse: revoking", "client_id", rt.ClientID, "user_id", rt.UserID, "scope", h.cfg.ReuseRevokes)
	if h.cfg.ReuseRevokes == ReuseRevokesUser && rt.UserID != "" {
		families, err := h.store.RevokeUserRefreshTokens(ctx, rt.UserID, fx)
		if err != nil {
			return err
		}
		return h.revokeUserVolatile(ctx, rt.UserID, families)
	}
	if err := h.store.RevokeRefreshFamily(ctx, rt.RequestID, fx); err != nil {
		return err
	}
	return h.redis.RevokeAccessToken(ctx, rt.RequestID)
}

// revokeUserVolatile ends what Redis holds for a user: access-token
// sessions and browser sessions.
func (h *Handler) revokeUserVolatile(ctx context.Context, userID string, families []string) error {
	if err := h.redis.RevokeAccessTokens(ctx, families); err != nil {
		return err
	}
	if err := h.redis.RevokeUserAccessTokens(ctx, userID); err != nil {
		return err
	}
	return h.sessions.DeleteUser(ctx, userID)
}

// RevokeUser revokes every refresh token, access token and browser session
// of the user (password reset, disabling, reuse with the user policy).
func (h *Handler) RevokeUser(ctx context.Context, userID string) error {
	families, err := h.store.RevokeUserRefreshTokens(ctx, userID, storage.Effects{})
	if err != nil {
		return err
	}
	return h.revokeUserVolatile(ctx, userID, families)
}

// RevokeClientGrant deletes the user's consent for the client and revokes
// the tokens of that grant.
func (h *Handler) RevokeClientGrant(ctx context.Context, userID, clientID string) error {
	families, err := h.store.DeleteConsent(ctx, userID, clientID)
	if err != nil && !isNotFound(err) {
		return err
	}
	if err := h.redis.RevokeAccessTokens(ctx, families); err != nil {
		return err
	}
	return h.redis.RevokeUserClientAccessTokens(ctx, userID, clientID)
}

// introspect is RFC 7662 introspection. The caller must authenticate as a
// client; a bearer token is not enough.
func (h *Handler) introspect(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Authorization")), "bearer ") {
		// Not WriteIntrospectionError: it answers active:false with 200
		// to anything but invalid_request.
		h.oauth.WriteAccessError(ctx, w, nil, fosite.ErrInvalidClient.WithHint("Authenticate with client credentials."))
		return
	}
	resp, err := h.oauth.NewIntrospectionRequest(ctx, r, storage.NewSession(""))
	if err != nil {
		if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= 500 {
			h.logError(ctx, "introspect", err)
		}
		h.oauth.WriteIntrospectionError(ctx, w, err)
		return
	}
	h.oauth.WriteIntrospectionResponse(ctx, w, resp)
}

// revoke is RFC 7009 revocation.
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	err := h.oauth.NewRevocationRequest(ctx, r)
	if err != nil {
		if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= 500 {
			h.logError(ctx, "revoke", err)
		}
	}
	h.oauth.WriteRevocationResponse(ctx, w, err)
}

// userinfo returns the claims the access token's scopes release.
func (h *Handler) userinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	token := fosite.AccessTokenFromRequest(r)
	if token == "" {
		bearerError(w, http.StatusUnauthorized, "invalid_request", "")
		return
	}
	_, ar, err := h.oauth.IntrospectToken(ctx, token, fosite.AccessToken, storage.NewSession(""), "openid")
	if err != nil {
		if errors.Is(err, fosite.ErrInvalidScope) {
			bearerError(w, http.StatusForbidden, "insufficient_scope", "The access token lacks the openid scope.")
			return
		}
		bearerError(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid, expired or revoked.")
		return
	}
	sub := ar.GetSession().GetSubject()
	u, err := h.store.GetUser(ctx, sub)
	if err != nil || u.Disabled {
		bearerError(w, http.StatusUnauthorized, "invalid_token", "The access token does not belong to an active user.")
		return
	}
	claims := userClaims(u, ar.GetGrantedScopes())
	claims["sub"] = u.ID
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(claims)
}

func bearerError(w http.ResponseWriter, status int, code, desc string) {
	v := `Bearer error="` + code + `"`
	if desc != "" {
		v += `, error_description="` + desc + `"`
	}
	w.Header().Set("WWW-Authenticate", v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// clientIP is the peer address; latch does not trust forwarding headers.
func clientIP(r *http.Request) string {
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	return strings.Trim(host, "[]")
}
