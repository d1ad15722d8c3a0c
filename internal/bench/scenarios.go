package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// tokenResponse is the part of a token endpoint answer the bench reads.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
}

// postForm posts form to u, with HTTP basic authentication when user is
// set, and decodes a 200 token response; anything else is an error.
func postToken(ctx context.Context, c *http.Client, u string, form url.Values, user, pass string) (tokenResponse, error) {
	var tr tokenResponse
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return tr, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, body, err := do(c, req)
	if err != nil {
		return tr, err
	}
	if resp.StatusCode != http.StatusOK {
		return tr, httpError(req, resp, body)
	}
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return tr, fmt.Errorf("%s %s: 200 without an access token: %.100s", req.Method, req.URL.Path, body)
	}
	return tr, nil
}

// Targets outside the cryptography: latch's CPU per request beside what
// its signature costs, and the tail latency of everything but RS256.
const (
	cpuClientCredentials = 120 * time.Microsecond
	cpuIntrospection     = 60 * time.Microsecond
	cpuStatic            = 25 * time.Microsecond
	maxP99               = 30 * time.Millisecond
)

func (b *bench) clientCredentials(ctx context.Context) {
	b.run(ctx, b.clientCredentialsScenario())
}

// clientCredentialsScenario is the client_credentials scenario, with the
// issue's targets for the algorithm latch signs with.
func (b *bench) clientCredentialsScenario() scenario {
	r := b.rates()
	s := scenario{name: "client_credentials " + b.c.alg, workers: b.workers,
		targetCPU: cpuClientCredentials + r.signatureCPU(b.c.alg)}
	if b.c.alg == "ES256" {
		s.target, s.maxP99, s.targetTxt = 9000, maxP99, "Hydra 261/s, Dex 893/s, oidc-provider 3,064/s"
	} else {
		s.target = 0.8 * r.rs256
		s.targetTxt = "0.8 × this machine's RS256 signing rate; oidc-provider 2,162/s"
	}
	form := url.Values{"grant_type": {"client_credentials"}}
	s.newWorker = func(context.Context, int) (func(context.Context) error, error) {
		c := newClient(nil)
		return func(ctx context.Context) error {
			_, err := postToken(ctx, c, b.ep.Token, form, b.c.clientID, b.c.clientSecret)
			return err
		}, nil
	}
	return s
}

func (b *bench) introspection(ctx context.Context) {
	// One JWT access token, introspected over and over by the client that
	// holds it (the resource server's usual pattern).
	tok, err := postToken(ctx, newClient(nil), b.ep.Token, url.Values{"grant_type": {"client_credentials"}}, b.c.clientID, b.c.clientSecret)
	s := scenario{name: "introspection (JWT)", workers: b.workers, target: 18000, targetCPU: cpuIntrospection, maxP99: maxP99,
		targetTxt: "Hydra 2,233/s, oidc-provider 3,914/s"}
	body := url.Values{"token": {tok.AccessToken}}.Encode()
	s.newWorker = func(context.Context, int) (func(context.Context) error, error) {
		if err != nil {
			return nil, err
		}
		c := newClient(nil)
		return func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.ep.Introspection, strings.NewReader(body))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(url.QueryEscape(b.c.clientID), url.QueryEscape(b.c.clientSecret))
			resp, rb, err := do(c, req)
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK {
				return httpError(req, resp, rb)
			}
			if !bytes.Contains(rb, []byte(`"active":true`)) {
				return fmt.Errorf("POST %s: token not active: %.100s", req.URL.Path, rb)
			}
			return nil
		}, nil
	}
	b.run(ctx, s)
}

func (b *bench) refresh(ctx context.Context) {
	// A refresh signs an access token and an ID token (RS256, unless the
	// client registered ES256).
	r := b.rates()
	s := scenario{name: "refresh rotation " + b.c.alg, workers: b.workers, target: 0.8 * r.rs256 / 2,
		targetTxt: "0.8 × RS256 rate ÷ 2 signatures"}
	switch {
	case b.c.alg == "ES256" && b.c.idTokenAlg == "ES256":
		s.name += ", ES256 ID tokens"
		s.target, s.targetTxt = 0, ""
	case b.c.alg == "ES256":
		s.target = 0.8 * r.rs256
		s.targetTxt = "0.8 × RS256 rate: one RSA signature"
	}
	s.newWorker = func(ctx context.Context, _ int) (func(context.Context) error, error) {
		c := newClient(nil)
		tr, err := b.loginWhenFree(ctx, c)
		if err != nil {
			return nil, err
		}
		if tr.RefreshToken == "" {
			return nil, errors.New("the code flow issued no refresh token (is the public client first-party with the refresh_token grant?)")
		}
		rt := tr.RefreshToken
		return func(ctx context.Context) error {
			if rt == "" {
				// The last refresh failed, so its token may be spent or
				// its family revoked: start a new family.
				tr, err := b.loginWhenFree(ctx, c)
				if err != nil {
					return fmt.Errorf("new refresh token after an error: %w", err)
				}
				rt = tr.RefreshToken
			}
			tr, err := postToken(ctx, c, b.ep.Token, url.Values{
				"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {b.c.publicClientID},
			}, "", "")
			rt = tr.RefreshToken
			if err == nil && rt == "" {
				err = errors.New("refresh answered without a new refresh token")
			}
			return err
		}, nil
	}
	b.run(ctx, s)
}

// loginWhenFree is login for a scenario's set-up, which signs in many
// workers at once: a sign-in refused with 429 (every password-hashing slot
// busy for LATCH_HASH_WAIT) is tried again after a pause, as the page
// asks, up to ten times.
func (b *bench) loginWhenFree(ctx context.Context, c *http.Client) (tokenResponse, error) {
	for attempt := 1; ; attempt++ {
		tr, err := b.login(ctx, c)
		if err == nil || attempt == 10 || !strings.Contains(err.Error(), ": 429") {
			return tr, err
		}
		select {
		case <-ctx.Done():
			return tokenResponse{}, ctx.Err()
		case <-time.After(time.Duration(attempt) * 250 * time.Millisecond):
		}
	}
}

// get measures GETs of a static document.
func (b *bench) get(ctx context.Context, name, u string) {
	s := scenario{name: name, workers: b.workers, target: 40000, targetCPU: cpuStatic, maxP99: maxP99}
	s.newWorker = func(context.Context, int) (func(context.Context) error, error) {
		c := newClient(nil)
		return func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return err
			}
			resp, body, err := do(c, req)
			if err != nil {
				return err
			}
			if resp.StatusCode != http.StatusOK || len(body) == 0 {
				return httpError(req, resp, body)
			}
			return nil
		}, nil
	}
	b.run(ctx, s)
}

func (b *bench) codeFlow(ctx context.Context) {
	s := scenario{name: "code+PKCE flow with login", workers: b.c.flowWorkers, target: 0.9 * b.rates().argon2id,
		targetTxt: "0.9 × this machine's Argon2id rate: a sign-in each"}
	s.newWorker = func(context.Context, int) (func(context.Context) error, error) {
		c := newClient(nil)
		return func(ctx context.Context) error {
			_, err := b.login(ctx, c)
			return err
		}, nil
	}
	b.run(ctx, s)
}
