package provider

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"
)

// Client assertions (private_key_jwt, RFC 7523). fosite verifies the
// signature, iss, sub, jti and that the audience names the token endpoint;
// latch adds what fosite leaves out or answers badly, before fosite sees the
// assertion. These checks only ever refuse, so they may read the claims
// before the signature is verified.
//
//   - The audience may be the issuer or the token endpoint (the guidance
//     after the 2025 audience-injection finding); a list that names
//     anything else is refused, so an assertion made for another server
//     cannot be replayed here.
//   - An assertion lives at most maxAssertionLifetime.
//   - iat and nbf in the future (beyond assertionSkew) are invalid_client:
//     fosite would answer them with a 500.

const (
	maxAssertionLifetime = 5 * time.Minute
	assertionSkew        = time.Minute
	assertionTypeJWT     = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// checkClientAssertion refuses a request whose client_assertion breaks
// latch's rules; r's form must be parsed.
func (h *Handler) checkClientAssertion(r *http.Request) error {
	a := r.PostForm.Get("client_assertion")
	if a == "" || r.PostForm.Get("client_assertion_type") != assertionTypeJWT {
		return nil // fosite answers a missing or unknown type itself
	}
	bad := func(why string) error { return fosite.ErrInvalidClient.WithHint("The client_assertion " + why) }
	parts := strings.Split(a, ".")
	if len(parts) != 3 {
		return bad("is not a signed JWT.")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err != nil || json.Unmarshal(payload, &c) != nil {
		return bad("is not a signed JWT.")
	}
	now := time.Now()
	exp, ok := numericClaim(c, "exp")
	if !ok {
		return bad("has no valid exp.")
	}
	if exp.Sub(now) > maxAssertionLifetime {
		return bad("lives too long: at most 5 minutes from now.")
	}
	for _, name := range []string{"iat", "nbf"} {
		if _, present := c[name]; !present {
			continue
		}
		at, ok := numericClaim(c, name)
		switch {
		case !ok:
			return bad("has a malformed " + name + ".")
		case at.After(now.Add(assertionSkew)):
			return bad("is not valid yet (" + name + " is in the future).")
		}
	}
	accepted := h.assertionAudiences()
	switch aud := c["aud"].(type) {
	case string:
		if !slices.Contains(accepted, aud) {
			return bad("is for another audience: use the issuer or the token endpoint.")
		}
	case []any:
		if len(aud) == 0 {
			return bad("has no audience.")
		}
		for _, x := range aud {
			if s, _ := x.(string); !slices.Contains(accepted, s) {
				return bad("names an audience other than this server.")
			}
		}
	default:
		return bad("has no audience.")
	}
	return nil
}

// assertionAudiences are the audiences a client assertion may name.
func (h *Handler) assertionAudiences() []string {
	return []string{h.cfg.Issuer, h.cfg.Issuer + PathToken}
}

// numericClaim reads a NumericDate; ok is false when it is absent or not a
// number.
func numericClaim(c map[string]any, name string) (time.Time, bool) {
	f, ok := c[name].(float64)
	if !ok || f < 0 || f > math.MaxInt32*4 {
		return time.Time{}, false
	}
	return time.Unix(int64(f), 0), true
}

// assertionConfig is fosite's configuration with the audiences latch
// accepts in client assertions: fosite's own accepts the token endpoint
// only.
type assertionConfig struct {
	*fosite.Config
	audiences []string
}

func (c assertionConfig) GetTokenURLs(context.Context) []string { return c.audiences }
