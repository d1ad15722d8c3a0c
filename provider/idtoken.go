package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
)

// idTokenStrategy signs each client's ID tokens with the algorithm it
// registered (id_token_signed_response_alg, OpenID Connect Dynamic Client
// Registration section 2), or with LATCH_ID_TOKEN_ALG. The default stays
// RS256, as OpenID Connect expects of a relying party that names none; a
// client that takes ES256 makes each sign-in and refresh an RSA signature
// cheaper.
type idTokenStrategy struct {
	byAlg map[string]openid.OpenIDConnectTokenStrategy
	def   openid.OpenIDConnectTokenStrategy
}

var _ openid.OpenIDConnectTokenStrategy = idTokenStrategy{}

// idTokenConfig is what fosite's ID token strategy reads of the provider's
// configuration.
type idTokenConfig interface {
	fosite.IDTokenIssuerProvider
	fosite.IDTokenLifespanProvider
	fosite.MinParameterEntropyProvider
}

func newIDTokenStrategy(signers Signers, defaultAlg string, cfg idTokenConfig) idTokenStrategy {
	s := idTokenStrategy{
		byAlg: map[string]openid.OpenIDConnectTokenStrategy{},
		def:   &openid.DefaultStrategy{Signer: signers.ID, Config: cfg},
	}
	for alg, signer := range signers.IDByAlg {
		s.byAlg[alg] = &openid.DefaultStrategy{Signer: signer, Config: cfg}
	}
	s.byAlg[defaultAlg] = s.def
	return s
}

func (s idTokenStrategy) GenerateIDToken(ctx context.Context, lifespan time.Duration, r fosite.Requester) (string, error) {
	c, _ := r.GetClient().(client)
	if c.IDTokenSignedResponseAlg == "" {
		return s.def.GenerateIDToken(ctx, lifespan, r)
	}
	st, ok := s.byAlg[c.IDTokenSignedResponseAlg]
	if !ok {
		// Registration accepts only the algorithms latch signs with.
		return "", fosite.ErrServerError.WithDebug(fmt.Sprintf("no signer for id_token_signed_response_alg %q", c.IDTokenSignedResponseAlg))
	}
	return st.GenerateIDToken(ctx, lifespan, r)
}
