package provider

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/rs"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web"
)

// maxFormBytes bounds the body of protocol requests.
const maxFormBytes = 64 << 10

// token is the token endpoint: authorization_code, refresh_token,
// client_credentials and the device code (device.go).
func (h *Handler) token(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	sess := NewSession("")
	if err := checkTokenForm(r); err != nil {
		h.writeAccessError(ctx, w, r, nil, err)
		return
	}
	if err := h.checkClientAssertion(r); err != nil {
		h.writeAccessError(ctx, w, r, nil, err)
		return
	}
	if r.Header.Get(headerDPoP) != "" {
		h.dpop.setNonce(w)
	}
	proof, err := h.dpop.check(ctx, r, h.cfg.Issuer+PathToken, "")
	if err != nil {
		h.writeAccessError(ctx, w, r, nil, err)
		return
	}
	// The store adapter learns here that it serves the token endpoint, and
	// for whom (refresh.go: reuse).
	ctx = withTokenRequest(ctx, &tokenRequest{ip: web.ClientIP(r), userAgent: web.UserAgent(r)})
	ar, err := h.oauth.NewAccessRequest(ctx, r, sess)
	if err != nil {
		h.writeAccessError(ctx, w, r, ar, err)
		return
	}
	if ar.GetGrantTypes().ExactOne(clients.GrantRefreshToken) {
		if err := checkRefreshScope(ar); err != nil {
			h.writeAccessError(ctx, w, r, ar, err)
			return
		}
	}
	if ar.GetGrantTypes().ExactOne(clients.GrantRefreshToken) || ar.GetGrantTypes().ExactOne(clients.GrantAuthorizationCode) || ar.GetGrantTypes().ExactOne(clients.GrantDeviceCode) {
		if err := h.refreshUser(ctx, ar); err != nil {
			h.writeAccessError(ctx, w, r, ar, err)
			return
		}
	}
	if ar.GetGrantTypes().ExactOne(clients.GrantClientCredentials) {
		cid := ar.GetClient().GetID()
		sess.Subject = cid
		sess.Claims.Subject = cid
		sess.GrantedAt = time.Now().UTC()
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
	}
	if err := bindDPoP(ar, proof); err != nil {
		h.writeAccessError(ctx, w, r, ar, err)
		return
	}
	if err := h.dpop.spend(ctx, proof); err != nil {
		h.writeAccessError(ctx, w, r, ar, err)
		return
	}
	if err := h.targetAccessToken(ctx, ar); err != nil {
		h.writeAccessError(ctx, w, r, ar, err)
		return
	}
	resp, err := h.oauth.NewAccessResponse(ctx, ar)
	if err != nil {
		h.writeAccessError(ctx, w, r, ar, err)
		return
	}
	if s, ok := ar.GetSession().(*Session); ok {
		if s.Scope != nil {
			// fosite answers with the grant's scopes; the token may carry
			// fewer (RFC 6749 section 5.1: scope is the token's).
			resp.SetScopes(s.Scope)
		}
		if s.JKT != "" {
			resp.SetTokenType(tokenTypeDPoP)
		}
	}
	h.oauth.WriteAccessResponse(ctx, w, ar, resp)
	for _, g := range ar.GetGrantTypes() {
		h.metrics.TokenIssued(g)
	}
}

// checkTokenForm refuses what fosite lets through or answers with the
// wrong error: a body that is not a form, repeated parameters (RFC 6749
// section 3.2), grant types latch does not serve (unsupported_grant_type,
// where fosite says invalid_request), and a request without any client
// authentication (invalid_client, section 5.2).
func checkTokenForm(r *http.Request) error {
	if err := checkProtocolForm(r); err != nil {
		return err
	}
	switch g := r.PostForm.Get("grant_type"); {
	case g == "":
		return fosite.ErrInvalidRequest.WithHint("The grant_type parameter is missing.")
	case !slices.Contains(clients.GrantTypes(), g):
		return fosite.ErrUnsupportedGrantType.WithHintf("Supported grant types are %s.", strings.Join(clients.GrantTypes(), ", "))
	}
	return checkClientNamed(r)
}

// checkProtocolForm reads the form of a request from a client (the token
// and device authorization endpoints) and refuses repeated parameters and
// fosite's audience parameter.
func checkProtocolForm(r *http.Request) error {
	if err := r.ParseMultipartForm(maxFormBytes); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		return fosite.ErrInvalidRequest.WithHint("The request body is not a valid form.")
	}
	for k, vs := range r.PostForm {
		if len(vs) > 1 && k != paramResource {
			return fosite.ErrInvalidRequest.WithHintf("The parameter %q is repeated.", k)
		}
	}
	if r.PostForm.Has(paramAudience) {
		return errAudienceParam
	}
	return nil
}

// checkClientNamed refuses a request without any client authentication
// (invalid_client, RFC 6749 section 5.2).
func checkClientNamed(r *http.Request) error {
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
	err = outage(err)
	switch {
	case errors.Is(err, fosite.ErrInvalidatedAuthorizeCode):
		err = fosite.ErrInvalidGrant.WithHint("The authorization code has already been used.")
	case errors.Is(err, fosite.ErrSerializationFailure):
		err = fosite.ErrInvalidGrant.WithHint("The token was used by a concurrent request.")
	}
	var de *dpopError
	if errors.As(err, &de) {
		err = de.rfc6749()
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

// checkRefreshScope refuses a refresh that asks for a scope the grant does
// not hold (RFC 6749 section 6): fosite would ignore the scope parameter and
// answer with the granted scopes, leaving the client to believe it got
// more.
func checkRefreshScope(ar fosite.AccessRequester) error {
	for _, s := range strings.Fields(ar.GetRequestForm().Get("scope")) {
		if !ar.GetGrantedScopes().Has(s) {
			return fosite.ErrInvalidScope.WithHintf("The scope %q was not granted to this refresh token.", s)
		}
	}
	return nil
}

// refreshUser brings the session of a refresh grant or a code exchange up
// to date with the user: the role and the claims of new tokens are the
// user's now, not those of the first grant, and a disabled or deleted user
// gets no more tokens, also from a code issued before the account was
// disabled.
func (h *Handler) refreshUser(ctx context.Context, ar fosite.AccessRequester) error {
	sess, ok := ar.GetSession().(*Session)
	if !ok || sess.GetSubject() == "" || sess.GetSubject() == ar.GetClient().GetID() {
		return nil
	}
	u, err := h.store.GetUser(ctx, sess.GetSubject())
	if isNotFound(err) || (err == nil && u.Disabled) {
		return fosite.ErrInvalidGrant.WithHint("The user of this grant is no longer active.")
	} else if err != nil {
		return fosite.ErrTemporarilyUnavailable.WithWrap(err)
	}
	sess.Role = u.Role
	sess.Username = u.Email
	if c := sess.IDTokenClaims(); c != nil {
		if c.Extra == nil {
			c.Extra = map[string]interface{}{}
		}
		for k, v := range userClaims(u, ar.GetGrantedScopes()) {
			c.Extra[k] = v
		}
	}
	return nil
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
	// fosite's own introspection request takes HTTP Basic alone and does
	// not say who asked: latch authenticates the caller as the token
	// endpoint does (every method discovery lists) and decides per caller.
	if err := r.ParseForm(); err != nil {
		h.oauth.WriteAccessError(ctx, w, nil, fosite.ErrInvalidRequest.WithHint("The body is not a form."))
		return
	}
	if err := h.checkClientAssertion(r); err != nil {
		h.oauth.WriteAccessError(ctx, w, nil, err)
		return
	}
	caller, err := h.fosite.AuthenticateClient(ctx, r, r.PostForm)
	if err == nil && caller.IsPublic() {
		err = fosite.ErrInvalidClient.WithHint("Introspection needs a confidential client.")
	}
	if err != nil {
		err = outage(err)
		if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= 500 {
			h.logError(ctx, "introspect", err)
			err = fosite.ErrTemporarilyUnavailable
		} else if rfc.ErrorField != fosite.ErrInvalidClient.ErrorField {
			// RFC 7662 section 2.1: a caller that did not authenticate
			// gets 401, missing credentials included.
			err = fosite.ErrInvalidClient.WithHint("Authenticate as a confidential client.")
		}
		h.oauth.WriteAccessError(ctx, w, nil, err)
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		h.oauth.WriteAccessError(ctx, w, nil, fosite.ErrInvalidRequest.WithHint("The token parameter is missing."))
		return
	}
	use, ar, err := h.fosite.IntrospectToken(ctx, token, fosite.TokenUse(r.PostForm.Get("token_type_hint")), NewSession(""))
	if err != nil {
		err = outage(err)
		if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= 500 {
			h.logError(ctx, "introspect", err)
			h.oauth.WriteAccessError(ctx, w, nil, fosite.ErrTemporarilyUnavailable)
			return
		}
		writeIntrospection(w, h.cfg.Issuer, &fosite.IntrospectionResponse{Active: false})
		return
	}
	ok, err := h.mayIntrospect(ctx, caller, use, ar)
	if err != nil {
		h.logError(ctx, "introspect", err)
		h.oauth.WriteAccessError(ctx, w, nil, fosite.ErrTemporarilyUnavailable)
		return
	}
	resp := &fosite.IntrospectionResponse{Active: ok}
	if ok {
		resp.AccessRequester, resp.TokenUse = ar, use
	}
	writeIntrospection(w, h.cfg.Issuer, resp)
}

// mayIntrospect decides what the caller may learn of a live token: a
// client, of its own tokens; an API, through the introspection clients its
// resource names, of the access tokens meant for it; a client registered
// with latch:admin, which may do anything the admin API does, of every
// token; no one else anything, so to them the token is inactive. A refresh
// token is otherwise only ever its own client's business.
func (h *Handler) mayIntrospect(ctx context.Context, caller fosite.Client, use fosite.TokenUse, ar fosite.AccessRequester) (bool, error) {
	switch {
	case caller.GetID() == ar.GetClient().GetID(), slices.Contains(caller.GetScopes(), resources.AdminScope):
		return true, nil
	case use != fosite.AccessToken:
		return false, nil
	}
	idx, err := h.resources.get(ctx, time.Time{})
	if err != nil {
		return false, err
	}
	aud, _ := tokenView(h.cfg.Issuer, ar)
	return idx.Introspects(caller.GetID(), aud), nil
}

// writeIntrospection answers RFC 7662 introspection. Unlike fosite's
// writer it says what the token is — token_use access_token or
// refresh_token, and token_type Bearer only for access tokens — and gives
// each token its own expiry, so a resource server cannot mistake a refresh
// token for a bearer token.
func writeIntrospection(w http.ResponseWriter, issuer string, resp fosite.IntrospectionResponder) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if !resp.IsActive() {
		w.Write([]byte(`{"active":false}` + "\n"))
		return
	}
	ar := resp.GetAccessRequester()
	sess := ar.GetSession()
	out := introspection{Active: true, Iss: issuer, ClientID: ar.GetClient().GetID()}
	kind := fosite.AccessToken
	if resp.GetTokenUse() == fosite.RefreshToken {
		kind = fosite.RefreshToken
		out.TokenUse = "refresh_token"
		out.Scope = strings.Join(ar.GetGrantedScopes(), " ")
	} else {
		out.TokenUse = "access_token"
		out.TokenType = "Bearer"
		if s, ok := sess.(*Session); ok && s.JKT != "" {
			// RFC 9449 section 6.2: the key the token is bound to.
			out.TokenType = tokenTypeDPoP
			out.Cnf = &confirmation{JKT: s.JKT}
		}
		aud, scopes := tokenView(issuer, ar)
		out.Aud = aud
		out.Scope = strings.Join(scopes, " ")
	}
	if exp := sess.GetExpiresAt(kind); !exp.IsZero() {
		out.Exp = exp.Unix()
	}
	if !ar.GetRequestedAt().IsZero() {
		out.Iat = ar.GetRequestedAt().Unix()
	}
	out.Sub = sess.GetSubject()
	// The username is the user's email address: released only to grants
	// that hold the email scope, like the claim itself.
	if ar.GetGrantedScopes().Has(resources.ScopeEmail) {
		out.Username = sess.GetUsername()
	}
	json.NewEncoder(w).Encode(out)
}

// introspection is an active token's introspection answer (RFC 7662
// section 2.2); a struct rather than a map, which encoding/json would sort
// the keys of at every answer.
type introspection struct {
	Active    bool          `json:"active"`
	Iss       string        `json:"iss"`
	ClientID  string        `json:"client_id"`
	TokenUse  string        `json:"token_use"`
	TokenType string        `json:"token_type,omitempty"`
	Cnf       *confirmation `json:"cnf,omitempty"`
	Aud       []string      `json:"aud,omitempty"`
	Scope     string        `json:"scope,omitempty"`
	Exp       int64         `json:"exp,omitempty"`
	Iat       int64         `json:"iat,omitempty"`
	Sub       string        `json:"sub,omitempty"`
	Username  string        `json:"username,omitempty"`
}

// confirmation is a token's cnf claim (RFC 7800): the thumbprint of the
// DPoP key it is bound to.
type confirmation struct {
	JKT string `json:"jkt"`
}

// revoke is RFC 7009 revocation.
func (h *Handler) revoke(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err == nil {
		if err := h.checkClientAssertion(r); err != nil {
			h.oauth.WriteAccessError(ctx, w, nil, err)
			return
		}
	}
	err := h.oauth.NewRevocationRequest(ctx, r)
	if err != nil {
		if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= 500 {
			h.logError(ctx, "revoke", err)
		}
	}
	// fosite answers 200 to these two: the token of another client
	// (RFC 7009 section 2.1: the request is refused and the client told),
	// and a storage failure (section 2.2.1: 503, so the client knows the
	// token may still be valid and retries).
	switch {
	case errors.Is(err, fosite.ErrUnauthorizedClient):
		h.oauth.WriteAccessError(ctx, w, nil, fosite.ErrUnauthorizedClient.WithHint("The token was not issued to this client."))
		return
	case errors.Is(err, fosite.ErrTemporarilyUnavailable), errors.Is(err, fosite.ErrServerError):
		h.oauth.WriteAccessError(ctx, w, nil, fosite.ErrTemporarilyUnavailable)
		return
	}
	h.oauth.WriteRevocationResponse(ctx, w, err)
}

// userinfo returns the claims the access token's scopes release. A
// DPoP-bound token comes with the DPoP scheme and a proof of its key (RFC
// 9449 section 7); any other token as a bearer token.
func (h *Handler) userinfo(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	fail := bearerError
	if r.URL.Query().Has("access_token") {
		// RFC 9700 section 4.3.2: a token in the URL leaks into logs and
		// Referer headers.
		fail(w, http.StatusBadRequest, "invalid_request", "Send the access token in the Authorization header, not in the URL.")
		return
	}
	token := fosite.AccessTokenFromRequest(r)
	if scheme, t, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, tokenTypeDPoP) {
		token, fail = t, dpopChallenge
		if r.Header.Get(headerDPoP) != "" {
			h.dpop.setNonce(w)
		}
	}
	if token == "" {
		fail(w, http.StatusUnauthorized, "invalid_request", "")
		return
	}
	use, ar, err := h.oauth.IntrospectToken(ctx, token, fosite.AccessToken, NewSession(""), "openid")
	if err == nil && use != fosite.AccessToken {
		// fosite falls back to refresh tokens; they are no bearer tokens.
		err = fosite.ErrRequestUnauthorized
	}
	if err != nil {
		if errors.Is(err, fosite.ErrInvalidScope) {
			fail(w, http.StatusForbidden, "insufficient_scope", "The access token lacks the openid scope.")
			return
		}
		if errors.Is(outage(err), fosite.ErrTemporarilyUnavailable) {
			h.logError(ctx, "userinfo", err)
			fail(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
			return
		}
		fail(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid, expired or revoked.")
		return
	}
	if status, code, desc := h.checkTokenBinding(r, ar, token); status != 0 {
		dpopChallenge(w, status, code, desc)
		return
	}
	sub := ar.GetSession().GetSubject()
	if sub == "" || sub == ar.GetClient().GetID() {
		// A client's own token (client_credentials) has no user, even
		// when the client's ID looks like one.
		fail(w, http.StatusUnauthorized, "invalid_token", "The access token has no user.")
		return
	}
	aud, scopes := tokenView(h.cfg.Issuer, ar)
	if !slices.Contains(aud, userinfoAudience(h.cfg.Issuer)) {
		fail(w, http.StatusUnauthorized, "invalid_token", "The access token is not meant for userinfo.")
		return
	}
	u, err := h.store.GetUser(ctx, sub)
	if storage.Unavailable(err) {
		h.logError(ctx, "userinfo", err)
		fail(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
		return
	}
	if err != nil || u.Disabled {
		fail(w, http.StatusUnauthorized, "invalid_token", "The access token does not belong to an active user.")
		return
	}
	claims := userClaims(u, scopes)
	claims["sub"] = u.ID
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(claims)
}

// checkTokenBinding checks that a DPoP-bound token came with the DPoP
// scheme and a proof of its key for this request, and that a token sent
// with the DPoP scheme is bound (RFC 9449 section 7). It returns the
// status and error of the DPoP challenge to answer, or 0.
func (h *Handler) checkTokenBinding(r *http.Request, ar fosite.AccessRequester, token string) (status int, code, desc string) {
	jkt := ""
	if s, ok := ar.GetSession().(*Session); ok {
		jkt = s.JKT
	}
	scheme, _, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	isDPoP := strings.EqualFold(scheme, tokenTypeDPoP)
	switch {
	case jkt == "" && !isDPoP:
		return 0, "", ""
	case jkt == "":
		return http.StatusUnauthorized, "invalid_token", "The access token is not DPoP-bound; send it as a bearer token."
	case !isDPoP:
		return http.StatusUnauthorized, "invalid_token", "The access token is DPoP-bound; send it with the DPoP scheme and a DPoP proof."
	}
	p, err := h.dpop.proof(r.Context(), r, h.cfg.Issuer+PathUserinfo, token)
	var de *dpopError
	switch {
	case errors.As(err, &de):
		return http.StatusUnauthorized, de.code, de.desc
	case err != nil:
		h.logError(r.Context(), "userinfo", err)
		return http.StatusServiceUnavailable, "temporarily_unavailable", ""
	case p == nil:
		return http.StatusUnauthorized, errCodeInvalidDPoPProof, "Send a DPoP proof with the DPoP-bound access token."
	case p.JKT != jkt:
		return http.StatusUnauthorized, "invalid_token", "The DPoP proof is signed with another key than the access token is bound to."
	}
	return 0, "", ""
}

func bearerError(w http.ResponseWriter, status int, code, desc string) {
	authError(w, "Bearer", status, code, desc)
}

// dpopChallenge answers with a DPoP challenge naming the accepted proof
// algorithms (RFC 9449 section 7.1).
func dpopChallenge(w http.ResponseWriter, status int, code, desc string) {
	authError(w, tokenTypeDPoP, status, code, desc, `algs="`+strings.Join(rs.DPoPAlgs(), " ")+`"`)
}

func authError(w http.ResponseWriter, scheme string, status int, code, desc string, params ...string) {
	v := scheme + ` error="` + code + `"`
	if desc != "" {
		v += `, error_description="` + desc + `"`
	}
	for _, p := range params {
		v += ", " + p
	}
	w.Header().Set("WWW-Authenticate", v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
