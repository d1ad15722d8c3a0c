package provider

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/latch-idp/latch/backchannel"
	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/web"
)

// logout is OpenID Connect RP-initiated logout. With a valid id_token_hint
// naming this browser's session (or no session) the user is signed out at
// once; otherwise latch asks first, so a third-party page cannot sign users
// out behind their backs. A post_logout_redirect_uri is followed only when
// it is registered, character for character, for the hinted client.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.pages.Problem(w, r, http.StatusBadRequest, web.Misconfigured("The sign-out request is malformed."))
		return
	}
	hint := r.Form.Get("id_token_hint")
	redirect := r.Form.Get("post_logout_redirect_uri")
	state := r.Form.Get("state")
	clientID := r.Form.Get("client_id")

	var hintSID, hintSub string
	if hint != "" {
		// An expired ID token still names the session (OIDC RP-Initiated
		// Logout section 2).
		header, claims, err := h.verifier.Verify(ctx, hint, keys.AllowExpired(), keys.RequireIssuer(h.cfg.Issuer))
		if errors.Is(err, keys.ErrWrongIssuer) {
			h.pages.Problem(w, r, http.StatusBadRequest, web.Misconfigured("The sign-out request carries an ID token from another issuer."))
			return
		} else if err != nil {
			h.pages.Problem(w, r, http.StatusBadRequest, web.Misconfigured("The sign-out request carries an invalid ID token."))
			return
		}
		if keys.HasType(header, keys.TypeAccessToken) {
			h.pages.Problem(w, r, http.StatusBadRequest, web.Misconfigured("The sign-out request carries an access token, not an ID token."))
			return
		}
		aud := audiences(claims["aud"])
		if clientID == "" && len(aud) == 1 {
			clientID = aud[0]
		} else if clientID != "" && !slices.Contains(aud, clientID) {
			h.pages.Problem(w, r, http.StatusBadRequest, web.Misconfigured("The ID token was not issued to this client."))
			return
		}
		hintSID, _ = claims["sid"].(string)
		hintSub, _ = claims["sub"].(string)
	}
	if redirect != "" {
		if clientID == "" {
			h.pages.Problem(w, r, http.StatusBadRequest, web.Misconfigured("The sign-out request names a redirect but not the client."))
			return
		}
		c, err := h.fstore.clients.getClient(ctx, clientID)
		if err != nil || !slices.Contains(c.PostLogoutRedirectURIs, redirect) {
			h.pages.Problem(w, r, http.StatusBadRequest, web.Misconfigured("The sign-out redirect is not registered for this application."))
			return
		}
	}

	sess, err := h.sessions.Get(ctx, r)
	if err != nil && !errors.Is(err, session.ErrNoSession) {
		h.serverError(w, r, "load session", err)
		return
	}
	confirmed := r.Method == http.MethodPost && r.PostForm.Get("confirm") == "yes"
	if confirmed && !h.pages.CSRFValid(r) {
		h.pages.Problem(w, r, http.StatusForbidden, web.ProblemExpiredForm)
		return
	}
	hinted := hint != "" && (sess == nil || sess.ID == hintSID || (hintSID == "" && sess.UserID == hintSub))
	var told []string
	if sess != nil {
		ids, err := h.sessions.Clients(ctx, sess.ID)
		if err != nil {
			h.serverError(w, r, "load the session's clients", err)
			return
		}
		told = backchannel.Told(ctx, h.store, ids)
	}
	if sess != nil && !hinted && !confirmed {
		fields := map[string]string{"confirm": "yes"}
		for _, k := range []string{"id_token_hint", "post_logout_redirect_uri", "state", "client_id"} {
			if v := r.Form.Get(k); v != "" {
				fields[k] = v
			}
		}
		h.pages.ConfirmLogout(w, r, PathLogout, fields, told)
		return
	}
	if err := h.sessions.End(ctx, w, r); err != nil {
		h.serverError(w, r, "end session", err)
		return
	}
	if redirect == "" {
		h.pages.SignedOut(w, r, told)
		return
	}
	u, _ := url.Parse(redirect)
	if state != "" {
		q := u.Query()
		q.Set("state", state)
		u.RawQuery = q.Encode()
	}
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func audiences(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		var out []string
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return a
	}
	return nil
}
