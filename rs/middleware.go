package rs

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
)

// RequireUser lets through requests whose bearer token is valid and has a
// user; a client's own token (client_credentials) is refused as
// invalid_token.
func (v *Verifier) RequireUser(next http.Handler) http.Handler {
	return v.guard(next, func(c *Claims) *refusal {
		if !c.IsUser() {
			return &refusal{status: http.StatusUnauthorized, code: "invalid_token", desc: "The access token has no user; this API serves users."}
		}
		return nil
	})
}

// RequireAdmin is RequireUser, then 403 Forbidden unless the user's role is
// admin.
func (v *Verifier) RequireAdmin(next http.Handler) http.Handler {
	return v.RequireUser(v.guard(next, func(c *Claims) *refusal {
		if !c.IsAdmin() {
			return &refusal{status: http.StatusForbidden, code: "forbidden", desc: "This needs an administrator."}
		}
		return nil
	}))
}

// RequireClient lets through requests whose bearer token is a client's own
// (client_credentials); a user's token is refused as invalid_token.
func (v *Verifier) RequireClient(next http.Handler) http.Handler {
	return v.guard(next, func(c *Claims) *refusal {
		if !c.IsClient() {
			return &refusal{status: http.StatusUnauthorized, code: "invalid_token", desc: "The access token is a user's; this API serves clients."}
		}
		return nil
	})
}

// RequireScope returns middleware that lets through requests whose bearer
// token is valid (a user's or a client's) and holds every one of scopes.
// Otherwise it answers 403 insufficient_scope naming the scopes needed, so
// that the client can ask for them (RFC 6750 section 3.1).
func (v *Verifier) RequireScope(scopes ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return v.guard(next, func(c *Claims) *refusal {
			if missing := c.missing(scopes); len(missing) > 0 {
				return &refusal{status: http.StatusForbidden, code: "insufficient_scope",
					desc: "The access token lacks the scope " + strings.Join(missing, " ") + ".", scope: scopes}
			}
			return nil
		})
	}
}

// refusal is a request turned away, and how.
type refusal struct {
	status int
	code   string // RFC 6750 error code, or "forbidden"
	desc   string
	scope  []string
	// dpop answers with a DPoP challenge (RFC 9449 section 7.1): the
	// request used the DPoP scheme, or its token is DPoP-bound.
	dpop bool
}

// guard verifies the request's bearer token, unless this verifier did so
// already on the way in, puts its claims in the context, and calls next
// unless allow refuses.
func (v *Verifier) guard(next http.Handler, allow func(*Claims) *refusal) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		seen, ok := ctx.Value(claimsKey{}).(verified)
		c := seen.c
		if !ok || seen.by != v {
			var ref *refusal
			if c, ref = v.verifyRequest(r); ref != nil {
				v.refuse(w, ref)
				return
			}
			ctx = context.WithValue(ctx, claimsKey{}, verified{by: v, c: c})
			r = r.WithContext(ctx)
		}
		if ref := allow(c); ref != nil {
			v.refuse(w, ref)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// VerifyRequest checks the access token of r's Authorization header, as
// the middleware does: a bearer token, or a DPoP-bound token with the DPoP
// scheme and a proof of its key for this request. Its errors match
// ErrInvalidToken (no token, a malformed header, a refused token or
// proof) or ErrUnavailable.
func (v *Verifier) VerifyRequest(r *http.Request) (*Claims, error) {
	c, ref := v.verifyRequest(r)
	if ref != nil {
		return nil, ref
	}
	return c, nil
}

// verifyRequest is VerifyRequest with the refusal to answer.
func (v *Verifier) verifyRequest(r *http.Request) (*Claims, *refusal) {
	token, dpop, ref := accessToken(r)
	if ref != nil {
		return nil, ref
	}
	c, err := v.verifyToken(r.Context(), token)
	if err != nil {
		ref := refusalOf(err)
		ref.dpop = dpop
		return nil, ref
	}
	if ref := v.checkBinding(r, token, dpop, c); ref != nil {
		return nil, ref
	}
	return c, nil
}

// Error says why a request was refused, in the words its client is told.
func (ref *refusal) Error() string {
	if ref.desc == "" {
		return "rs: no access token"
	}
	return "rs: " + ref.desc
}

// Is makes a refusal of VerifyRequest match ErrUnavailable or
// ErrInvalidToken.
func (ref *refusal) Is(target error) bool {
	if ref.status == http.StatusServiceUnavailable {
		return target == ErrUnavailable
	}
	return target == ErrInvalidToken
}

func refusalOf(err error) *refusal {
	if errors.Is(err, ErrUnavailable) {
		return &refusal{status: http.StatusServiceUnavailable, code: "temporarily_unavailable", desc: "The token cannot be checked right now; try again shortly."}
	}
	return &refusal{status: http.StatusUnauthorized, code: "invalid_token", desc: description(err)}
}

// accessToken reads the token of an Authorization header with the Bearer
// scheme (RFC 6750 section 2.1, the only method served) or the DPoP scheme
// (RFC 9449 section 7.1), and reports which. No token is a refusal without
// an error code (section 3.1); a malformed header, or a token sent two
// ways, is invalid_request.
func accessToken(r *http.Request) (token string, dpop bool, ref *refusal) {
	headers := r.Header.Values("Authorization")
	inQuery := r.URL.Query().Has("access_token")
	switch {
	case len(headers) > 1 || (len(headers) == 1 && inQuery):
		return "", false, &refusal{status: http.StatusBadRequest, code: "invalid_request", desc: "Send the access token once, in the Authorization header."}
	case len(headers) == 0:
		return "", false, &refusal{status: http.StatusUnauthorized, desc: "This API needs an access token in the Authorization header."}
	}
	scheme, token, _ := strings.Cut(headers[0], " ")
	dpop = strings.EqualFold(scheme, "DPoP")
	if !dpop && !strings.EqualFold(scheme, "Bearer") {
		return "", false, &refusal{status: http.StatusUnauthorized, desc: "This API needs a Bearer or DPoP access token."}
	}
	if !token68(token) {
		return "", dpop, &refusal{status: http.StatusBadRequest, code: "invalid_request", desc: "The Authorization header is malformed.", dpop: dpop}
	}
	return token, dpop, nil
}

// checkBinding checks that a DPoP-bound token came with the DPoP scheme
// and a proof of its key, and that a token sent with the DPoP scheme is
// bound (RFC 9449 section 7).
func (v *Verifier) checkBinding(r *http.Request, token string, dpop bool, c *Claims) *refusal {
	switch {
	case c.JKT == "" && !dpop:
		return nil
	case c.JKT == "":
		return dpopRefusal("invalid_token", "The access token is not DPoP-bound; send it as a Bearer token.")
	case !dpop:
		return dpopRefusal("invalid_token", "The access token is DPoP-bound; send it with the DPoP scheme and a DPoP proof.")
	}
	return v.checkDPoP(r, token, c.JKT)
}

// token68 is RFC 6750's b64token.
func token68(s string) bool {
	s = strings.TrimRight(s, "=")
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
		if !ok {
			return false
		}
	}
	return true
}

// refuse writes the refusal: a WWW-Authenticate challenge (for 401 and
// 403 insufficient_scope) and a small JSON body.
func (v *Verifier) refuse(w http.ResponseWriter, ref *refusal) {
	h := w.Header()
	if ref.status == http.StatusUnauthorized || ref.code == "insufficient_scope" || ref.code == "invalid_request" {
		h.Set("WWW-Authenticate", v.challenge(ref))
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(ref.status)
	// The body always has an error code, so that every refusal has one
	// shape; the challenge carries none when no token was sent (RFC 6750
	// section 3.1).
	code := ref.code
	if code == "" {
		code = "unauthorized"
	}
	body := map[string]string{"error": code, "error_description": ref.desc}
	json.NewEncoder(w).Encode(body)
}

// challenge is the WWW-Authenticate value (RFC 6750 section 3, RFC 9728
// section 5.1).
func (v *Verifier) challenge(ref *refusal) string {
	parts := []string{"realm=" + quote(v.realm)}
	if ref.code != "" {
		parts = append(parts, "error="+quote(ref.code), "error_description="+quote(ref.desc))
	}
	if len(ref.scope) > 0 {
		parts = append(parts, "scope="+quote(strings.Join(ref.scope, " ")))
	}
	parts = append(parts, "resource_metadata="+quote(v.metadataURL))
	if ref.dpop {
		return "DPoP " + strings.Join(append(parts, "algs="+quote(strings.Join(DPoPAlgs(), " "))), ", ")
	}
	return "Bearer " + strings.Join(parts, ", ")
}

// quote makes a quoted-string (RFC 9110 section 5.6.4), dropping what a
// header cannot hold.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(s) {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c >= 0x20 && c < 0x7f:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
