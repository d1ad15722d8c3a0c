package provider

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/flow"
	"github.com/latch-idp/latch/passkey"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web"
)

// authorize starts an authorization: fosite validates the request (client,
// exact redirect URI, PKCE, scopes), then the flow decides whether the user
// must log in or consent before a code is issued.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := h.redeemPushed(r); errors.Is(err, errBadRequestURI) {
		h.pages.Problem(w, r, http.StatusBadRequest, web.ProblemExpiredSignIn)
		return
	} else if err != nil {
		h.serverError(w, r, "redeem pushed request", err)
		return
	}
	if err := r.ParseForm(); err == nil {
		// The pages of this sign-in, and its errors, in the language the
		// application asked for.
		r = h.pages.RememberLanguage(w, r, r.Form.Get("ui_locales"))
	}
	ar, err := h.authorizeRequest(ctx, r)
	if err != nil {
		h.writeAuthorizeError(w, r, ar, err)
		return
	}
	c := ar.GetClient().(client)
	form := ar.GetRequestForm()
	f := &flow.Flow{
		ClientID:   c.ID,
		ClientName: c.Name,
		Query:      form.Encode(),
		Scopes:     ar.GetRequestedScopes(),
		APIs:       h.apiNames(ctx, ar),
		LoginHint:  form.Get("login_hint"),
		CreatedAt:  time.Now().UTC(),
	}
	if f.ClientName == "" {
		f.ClientName = c.ID
	}
	if c.fromDocument {
		f.UnregisteredHost = documentHost(c.ID)
	}
	prompts := strings.Fields(form.Get("prompt"))
	if slices.Contains(prompts, "login") {
		f.ForceLogin = true
	}
	if d, ok := maxAge(form.Get("max_age")); ok {
		// Login asks for the password again when the session is older.
		f.RequireFresh = f.CreatedAt.Add(-d)
	}
	f.ACR = h.requiredACR(c, form.Get("acr_values"))
	h.advance(w, r, ar, f)
}

// resume continues a flow after login or consent.
func (h *Handler) resume(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	f, err := h.flows.Get(ctx, r.URL.Query().Get("flow"), flow.StageResume)
	if errors.Is(err, flow.ErrNotFound) {
		h.pages.Problem(w, r, http.StatusBadRequest, web.ProblemExpiredSignIn)
		return
	} else if err != nil {
		h.serverError(w, r, "load flow", err)
		return
	}
	if f.Device != "" {
		h.advanceDevice(w, r, f)
		return
	}
	// Rebuild the authorization request from its original parameters, so
	// fosite validates it again exactly as at the start.
	orig := r.Clone(ctx)
	orig.Method = http.MethodGet
	orig.URL = &url.URL{Path: PathAuthorize, RawQuery: f.Query}
	orig.Body = http.NoBody
	orig.Form, orig.PostForm = nil, nil
	orig.Header = r.Header.Clone()
	orig.Header.Del("Content-Type")
	ar, err := h.authorizeRequest(ctx, orig)
	if err != nil {
		h.writeAuthorizeError(w, r, ar, err)
		return
	}
	h.advance(w, r, ar, f)
}

// authorizeRequest is fosite's validation of an authorization request and
// latch's own (checkAuthorizeRequest), the same at the start and at every
// resume.
func (h *Handler) authorizeRequest(ctx context.Context, r *http.Request) (fosite.AuthorizeRequester, error) {
	if err := refuseRequestObjects(r); err != nil {
		return nil, err
	}
	ar, err := h.oauth.NewAuthorizeRequest(withRequestedRedirect(ctx, r), r)
	if err == nil {
		err = h.checkAuthorize(ctx, ar)
	}
	return ar, err
}

// refuseRequestObjects refuses request objects (the request parameter):
// latch does not serve them (discovery says request_parameter_supported
// false), and fosite would read their parameters, an unsigned object's
// among them. A request_uri is a pushed request's, redeemed before this.
func refuseRequestObjects(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return nil // fosite answers a malformed request itself
	}
	if r.Form.Has("request") {
		return fosite.ErrRequestNotSupported.WithHint("Request objects are not supported; send the parameters themselves, or push them (PAR).")
	}
	return nil
}

// checkAuthorize is latch's own validation of an authorization request,
// pushed or not: what it serves (checkAuthorizeRequest) and the resources
// of the grant, which it grants to ar.
func (h *Handler) checkAuthorize(ctx context.Context, ar fosite.AuthorizeRequester) error {
	if err := checkAuthorizeRequest(ar); err != nil {
		return err
	}
	return h.grantResources(ctx, ar)
}

// requiredACR is the authentication context class a sign-in to c must
// reach: the stronger of the client's minimum_acr_value and what the
// request's acr_values name (latch insists on a passkey class asked for,
// rather than treating it as a wish). Without passkeys there is none to
// insist on: acr_values are then voluntary, as OpenID Connect has them,
// and the ID token carries no acr.
func (h *Handler) requiredACR(c client, acrValues string) string {
	if !h.cfg.Passkeys {
		return ""
	}
	return passkey.Stronger(c.MinimumACR, passkey.Required(acrValues))
}

// advance takes the flow to its next step: login, consent, or the code.
func (h *Handler) advance(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, f *flow.Flow) {
	ctx := r.Context()
	c := ar.GetClient().(client)
	form := ar.GetRequestForm()
	promptNone := slices.Contains(strings.Fields(form.Get("prompt")), "none")

	user, signedIn, err := h.flowUser(r, f)
	switch {
	case errors.Is(err, errOtherSession):
		h.pages.Problem(w, r, http.StatusBadRequest, web.ProblemExpiredSignIn)
		return
	case errors.Is(err, errUserGone):
		h.writeAuthorizeError(w, r, ar, fosite.ErrAccessDenied.WithHint("The account is not available."))
		return
	case err != nil:
		h.serverError(w, r, "load session", err)
		return
	case !signedIn && promptNone:
		h.writeAuthorizeError(w, r, ar, fosite.ErrLoginRequired.WithHint("The user is not signed in."))
		return
	case !signedIn:
		h.sendTo(w, r, f, flow.StageLogin)
		return
	}

	if f.Denied {
		h.takeFlow(ctx, f)
		h.writeAuthorizeError(w, r, ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
		return
	}
	if !f.Consented {
		need, err := h.needsConsent(ctx, c, user.ID, f.Scopes, form.Get("prompt"))
		if err != nil {
			h.serverError(w, r, "load consent", err)
			return
		}
		if need {
			if promptNone {
				h.writeAuthorizeError(w, r, ar, fosite.ErrConsentRequired.WithHint("The user has not consented to this request."))
				return
			}
			h.sendTo(w, r, f, flow.StageConsent)
			return
		}
		f.GrantedScopes = f.Scopes
	}

	// Issue the code. A flow is used once: of two racing resumes, one wins.
	if f.ID != "" && !h.takeFlow(ctx, f) {
		h.pages.Problem(w, r, http.StatusBadRequest, web.ProblemExpiredSignIn)
		return
	}
	grantScopes(ar, c, user, f.GrantedScopes)
	sessn := h.newSession(user, f, c.ID, ar)
	if f.SessionID != "" {
		// The client took part in this browser session: it is told when
		// the session ends (back-channel logout).
		if err := h.sessions.Join(ctx, f.SessionID, c.ID); err != nil {
			h.serverError(w, r, "record the session's client", err)
			return
		}
	}
	resp, err := h.oauth.NewAuthorizeResponse(ctx, ar, sessn)
	if err != nil {
		h.writeAuthorizeError(w, r, ar, err)
		return
	}
	resp.AddParameter("iss", h.cfg.Issuer) // RFC 9207
	h.oauth.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// sendTo parks the flow in stage and redirects the browser to the page that
// handles it.
func (h *Handler) sendTo(w http.ResponseWriter, r *http.Request, f *flow.Flow, stage flow.Stage) {
	ctx := r.Context()
	f.Stage = stage
	var err error
	if f.ID == "" {
		err = h.flows.Create(ctx, f)
	} else {
		err = h.flows.Save(ctx, f)
	}
	if errors.Is(err, flow.ErrNotFound) {
		h.pages.Problem(w, r, http.StatusBadRequest, web.ProblemExpiredSignIn)
		return
	} else if err != nil {
		h.serverError(w, r, "save flow", err)
		return
	}
	http.Redirect(w, r, h.flows.URL(stage, f.ID), http.StatusSeeOther)
}

func (h *Handler) takeFlow(ctx context.Context, f *flow.Flow) bool {
	if f.ID == "" {
		return true
	}
	_, err := h.flows.Take(ctx, f.ID, flow.StageResume)
	return err == nil
}

// needsConsent reports whether the user must be asked: always for a
// client identified by its metadata document, never for a first-party
// client, always for prompt=consent, otherwise when the
// remembered consent does not cover every requested scope.
func (h *Handler) needsConsent(ctx context.Context, c client, userID string, scopes []string, prompt string) (bool, error) {
	if c.fromDocument {
		// Not registered: asked every time, and never remembered (see
		// package clients/metadoc).
		return true, nil
	}
	if c.FirstParty {
		return false, nil
	}
	if slices.Contains(strings.Fields(prompt), "consent") {
		return true, nil
	}
	consent, err := h.store.GetConsent(ctx, userID, c.ID)
	if isNotFound(err) {
		return true, nil
	} else if err != nil {
		return false, err
	}
	for _, s := range scopes {
		if !slices.Contains(consent.Scopes, s) {
			return true, nil
		}
	}
	return false, nil
}

// documentHost is the host of a metadata document's URL, which the
// consent page shows as the client's identity.
func documentHost(id string) string {
	u, err := url.Parse(id)
	if err != nil {
		return id
	}
	return u.Host
}

// maxAge parses the max_age parameter; ok is false when it is absent or
// not a non-negative number of seconds.
func maxAge(v string) (d time.Duration, ok bool) {
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > int64(100*365*24*time.Hour/time.Second) {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

// Request parameters that name audiences: RFC 8707's resource, which may
// be repeated, and fosite's audience, which latch does not read.
const (
	paramResource = "resource"
	paramAudience = "audience"
)

var errAudienceParam = fosite.ErrInvalidRequest.WithHint("The audience parameter is not supported; name the API with the resource parameter (RFC 8707).")

// checkAuthorizeRequest refuses what latch does not serve: repeated
// parameters (but resource), anything but the authorization code flow, response modes
// other than query, and PKCE other than S256 (required for public
// clients). fosite checks PKCE only when it issues the code; checking here
// spares the user a login that cannot end well.
func checkAuthorizeRequest(ar fosite.AuthorizeRequester) error {
	if u := ar.GetRedirectURI(); u != nil && u.User != nil {
		// fosite's RFC 8252 loopback match compares scheme, host, path and
		// query, not user information.
		return fosite.ErrInvalidRequest.WithHint("The redirect_uri must match a registered one exactly.")
	}
	for k, vs := range ar.GetRequestForm() {
		if len(vs) > 1 && k != paramResource {
			// RFC 6749 sections 3.1 and 4.1.2.1; fosite reads the first.
			return fosite.ErrInvalidRequest.WithHintf("The parameter %q is repeated.", k)
		}
	}
	if ar.GetRequestForm().Has(paramAudience) {
		return errAudienceParam
	}
	if !loopbackExceptionHolds(ar) {
		return fosite.ErrInvalidRequest.WithHint("The redirect_uri must match a registered one exactly; any port is allowed only for http loopback registrations.")
	}
	if !ar.GetResponseTypes().ExactOne("code") {
		return fosite.ErrUnsupportedResponseType.WithHint("Only the authorization code flow (response_type=code) is supported.")
	}
	form := ar.GetRequestForm()
	if m := form.Get("response_mode"); m != "" && m != "query" {
		return fosite.ErrUnsupportedResponseMode.WithHint("Only response_mode=query is supported.")
	}
	if jkt := form.Get(paramDPoPJKT); form.Has(paramDPoPJKT) && !validJKT(jkt) {
		return fosite.ErrInvalidRequest.WithHint("The dpop_jkt must be the base64url SHA-256 thumbprint of a JWK (RFC 7638).")
	}
	challenge, method := form.Get("code_challenge"), form.Get("code_challenge_method")
	switch {
	case challenge == "" && method != "":
		return fosite.ErrInvalidRequest.WithHint("The code_challenge_method is given without a code_challenge.")
	case challenge == "" && ar.GetClient().IsPublic():
		return fosite.ErrInvalidRequest.WithHint("Public clients must use PKCE (code_challenge with code_challenge_method S256).")
	case challenge != "" && method != "S256":
		return fosite.ErrInvalidRequest.WithHint("The code_challenge_method must be S256.")
	}
	return nil
}

// loopbackExceptionHolds checks fosite's RFC 8252 section 7.3 match: a
// redirect URI that is not registered as it is was matched as a loopback
// URI with another port, which RFC 8252 allows for http registrations only
// (fosite ignores the registered scheme, so an https registration would
// accept plain http on any port).
func loopbackExceptionHolds(ar fosite.AuthorizeRequester) bool {
	raw := ar.GetRequestForm().Get("redirect_uri")
	registered := ar.GetClient().GetRedirectURIs()
	if raw == "" || slices.Contains(registered, raw) {
		return true
	}
	return slices.ContainsFunc(registered, func(r string) bool { return clients.LoopbackRedirectMatch(r, raw) })
}

// newSession builds the grant's session: the ID token claims and what the
// access token carries.
func (h *Handler) newSession(u storage.User, f *flow.Flow, clientID string, ar fosite.Requester) *Session {
	granted := ar.GetGrantedScopes()
	s := NewSession(u.ID)
	s.Resources = ar.GetGrantedAudience()
	now := time.Now().UTC()
	c := s.Claims
	c.AuthTime = f.AuthTime.UTC()
	c.RequestedAt = f.CreatedAt.UTC()
	c.AuthenticationMethodsReferences = f.AMR
	c.AuthenticationContextClassReference = passkey.ACR(f.AMR)
	c.Extra = map[string]interface{}{"azp": clientID}
	if f.SessionID != "" {
		c.Extra["sid"] = f.SessionID
	}
	for k, v := range userClaims(u, granted) {
		c.Extra[k] = v
	}
	s.Username = u.Email
	s.Role = u.Role
	s.SID = f.SessionID
	s.GrantedAt = now
	// RFC 9449 section 10: the code is redeemed only with a proof of this
	// key.
	s.JKT = ar.GetRequestForm().Get(paramDPoPJKT)
	return s
}

// userClaims are the claims the granted scopes release.
func userClaims(u storage.User, granted fosite.Arguments) map[string]interface{} {
	out := map[string]interface{}{}
	if granted.Has("profile") {
		name := u.Name
		if name == "" {
			name = u.Email
		}
		out["name"] = name
		out["preferred_username"] = u.Email
		out["updated_at"] = u.UpdatedAt.Unix()
	}
	if granted.Has("email") {
		out["email"] = u.Email
		out["email_verified"] = u.EmailVerified
	}
	return out
}

// writeAuthorizeError answers a failed authorization request. When the
// redirect URI could not be trusted the user gets an error page, never a
// redirect; otherwise the client gets the error with iss (RFC 9207).
func (h *Handler) writeAuthorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	err = outage(err)
	rfc := fosite.ErrorToRFC6749Error(err)
	if rfc.CodeField >= 500 {
		h.logError(r.Context(), "authorize", err)
	}
	if errors.Is(err, fosite.ErrTemporarilyUnavailable) && (ar == nil || !ar.IsRedirectURIValid()) {
		h.pages.Problem(w, r, http.StatusServiceUnavailable, web.Problem{Message: web.UnavailableMessage})
		return
	}
	if ar == nil || !ar.IsRedirectURIValid() || ar.GetRedirectURI().User != nil || !loopbackExceptionHolds(ar) {
		detail := rfc.HintField
		if detail == "" {
			detail = rfc.DescriptionField
		}
		h.pages.Problem(w, r, http.StatusBadRequest, web.Misconfigured(detail))
		return
	}
	u := *ar.GetRedirectURI()
	u.Fragment = ""
	q := u.Query()
	for k, vs := range rfc.ToValues() {
		q[k] = vs
	}
	if s := ar.GetState(); s != "" {
		q.Set("state", s)
	}
	q.Set("iss", h.cfg.Issuer)
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.logError(r.Context(), what, err)
	h.pages.Problem(w, r, http.StatusServiceUnavailable, web.Problem{Message: web.InternalMessage})
}
