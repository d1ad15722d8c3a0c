package provider

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
)

// Pushed authorization requests (RFC 9126). fosite validates and
// authenticates the pushed request; latch keeps its parameters in Redis and
// redeems the request_uri itself at the authorization endpoint, where the
// parameters replace the request's and are validated again like any other
// authorization request. So the flow, the resume endpoint and every check of
// a plain request apply unchanged.

// parPrefix starts every request_uri latch hands out; a pushed request
// lives parLifetime (RFC 9126 suggests 5 to 600 seconds).
const (
	parPrefix   = "urn:ietf:params:oauth:request_uri:"
	parLifetime = 90 * time.Second
)

// credentialParams never reach storage: they authenticated the push.
var credentialParams = []string{"client_secret", "client_assertion", "client_assertion_type"}

// par is the pushed authorization request endpoint.
func (h *Handler) par(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err == nil {
		err = h.checkClientAssertion(r)
		if err == nil {
			err = refuseRequestObjects(r)
		}
		if err != nil {
			h.oauth.WriteAccessError(ctx, w, nil, err)
			return
		}
	}
	if r.Header.Get(headerDPoP) != "" {
		// The nonce for the client's next proof, as at the token endpoint.
		h.dpop.setNonce(w)
	}
	ar, err := h.oauth.NewPushedAuthorizeRequest(withRequestedRedirect(ctx, r), r)
	if err == nil {
		err = h.checkAuthorize(ctx, ar)
	}
	if err != nil {
		h.writePARError(ctx, w, ar, err)
		return
	}
	if err := h.pushedDPoP(r, ar); err != nil {
		h.writePARError(ctx, w, ar, err)
		return
	}
	resp, err := h.oauth.NewPushedAuthorizeResponse(ctx, ar, NewSession(""))
	if err != nil {
		h.writePARError(ctx, w, ar, err)
		return
	}
	h.oauth.WritePushedAuthorizeResponse(ctx, w, ar, resp)
}

// pushedDPoP binds the pushed request's code to the key of a DPoP proof
// sent with the push, as dpop_jkt would (RFC 9449 section 10.1).
func (h *Handler) pushedDPoP(r *http.Request, ar fosite.AuthorizeRequester) error {
	if r.Header.Get(headerDPoP) == "" {
		return nil
	}
	p, err := h.dpop.proof(r.Context(), r, h.cfg.Issuer+PathPAR, "")
	if err != nil {
		return err
	}
	form := ar.GetRequestForm()
	if jkt := form.Get(paramDPoPJKT); jkt != "" && jkt != p.JKT {
		return invalidProof("The dpop_jkt is not the thumbprint of the DPoP proof's key.")
	}
	form.Set(paramDPoPJKT, p.JKT)
	return nil
}

func (h *Handler) writePARError(ctx context.Context, w http.ResponseWriter, ar fosite.AuthorizeRequester, err error) {
	err = outage(err)
	var de *dpopError
	if errors.As(err, &de) {
		err = de.rfc6749()
	}
	if rfc := fosite.ErrorToRFC6749Error(err); rfc.CodeField >= 500 {
		h.logError(ctx, "pushed authorization request", err)
	}
	h.oauth.WritePushedAuthorizeError(ctx, w, ar, err)
}

// CreatePARSession keeps the pushed request's parameters, without the
// client's credentials.
func (s *fositeStore) CreatePARSession(ctx context.Context, requestURI string, ar fosite.AuthorizeRequester) error {
	form := url.Values{}
	for k, v := range ar.GetRequestForm() {
		form[k] = v
	}
	for _, k := range credentialParams {
		form.Del(k)
	}
	form.Set("client_id", ar.GetClient().GetID())
	return s.volatile.SavePushedRequest(ctx, requestURI, ar.GetClient().GetID(), form, s.parTTL)
}

// GetPARSession is never reached: the authorization endpoint redeems
// request_uri values before fosite sees them.
func (s *fositeStore) GetPARSession(ctx context.Context, requestURI string) (fosite.AuthorizeRequester, error) {
	return nil, fosite.ErrNotFound
}

func (s *fositeStore) DeletePARSession(ctx context.Context, requestURI string) error {
	return s.volatile.DeletePushedRequest(ctx, requestURI)
}

var errBadRequestURI = errors.New("provider: unknown, expired or used request_uri")

// redeemPushed replaces a request that carries a request_uri by the pushed
// request's parameters. It returns errBadRequestURI for an unknown, expired
// or already used request_uri, or one pushed by another client.
func (h *Handler) redeemPushed(r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return nil // fosite answers a malformed request itself
	}
	uri := r.Form.Get("request_uri")
	if uri == "" {
		return nil
	}
	if !strings.HasPrefix(uri, parPrefix) {
		return errBadRequestURI
	}
	// Taken only for the client that pushed it: a wrong client_id does not
	// use up another client's request_uri.
	form, err := h.volatile.TakePushedRequest(r.Context(), uri, r.Form.Get("client_id"))
	if isNotFound(err) {
		return errBadRequestURI
	} else if err != nil {
		return err
	}
	r.Method = http.MethodGet
	r.URL.RawQuery = form.Encode()
	r.Body = http.NoBody
	r.Form, r.PostForm = nil, nil
	r.Header.Del("Content-Type")
	return nil
}
