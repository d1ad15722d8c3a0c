package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

// TestAttackCode plays an attacker against authorization codes: a code is
// redeemed only by its client, with its redirect_uri and its PKCE verifier
// however often it is tried, and not after its lifetime; an ID token has a
// nonce only when the request had one.
func TestAttackCode(t *testing.T) {
	a := startAttack(t)
	s, public, other, basic, post, codeOf, exchange := a.s, a.public, a.other, a.basic, a.post, a.codeOf, a.exchange

	t.Run("case=a code is redeemed only by the client it was issued to", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		code, ar := codeOf(t, basic, b, u, nil)
		for _, thief := range []*relyingParty{post, public, other} {
			status, body := exchange(t, thief, code, basic.conf.RedirectURL, ar.Verifier)
			invalidGrant(t, "code of "+basic.client.ID+" redeemed by "+thief.client.TokenEndpointAuthMethod+" client", status, body)
		}
		// A public client's code too, by another public client that knows
		// the verifier.
		code, ar = codeOf(t, public, b, u, nil)
		status, body := exchange(t, other, code, public.conf.RedirectURL, ar.Verifier)
		invalidGrant(t, "public client's code redeemed by another public client", status, body)
		status, body = exchange(t, public, code, public.conf.RedirectURL, ar.Verifier)
		if status != http.StatusOK {
			t.Errorf("the rightful exchange after the thieves': %s", describe(status, body))
		}
	})

	t.Run("case=a code is bound to its redirect_uri", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		two := s.client(t, clients.Metadata{
			TokenEndpointAuthMethod: storage.AuthMethodBasic, Scope: "openid email offline_access",
			RedirectURIs: []string{"https://two.example.com/a", "https://two.example.com/b"},
		})
		code, ar := codeOf(t, two, s.browser(), u, nil)
		for _, redirect := range []string{"https://two.example.com/b", "", "https://two.example.com/a/", "https://TWO.example.com/a"} {
			status, body := exchange(t, two, code, redirect, ar.Verifier)
			invalidGrant(t, "exchange with redirect_uri "+redirect, status, body)
		}
	})

	t.Run("case=a flow that started with PKCE finishes with it, however often the code is tried", func(t *testing.T) {
		// Each failed attempt must leave the code's challenge in place: a
		// later attempt without code_verifier must not pass as a flow that
		// never used PKCE (RFC 9700 section 4.8.2).
		u := s.user(t, storage.RoleUser)
		b := s.browser()
		for _, rp := range []*relyingParty{basic, post} {
			code, ar := codeOf(t, rp, b, u, nil)
			for i, v := range []string{"", oauth2.GenerateVerifier(), "", ""} {
				status, body := exchange(t, rp, code, rp.conf.RedirectURL, v)
				invalidGrant(t, rp.client.TokenEndpointAuthMethod+": attempt "+string(rune('1'+i))+" without the right verifier", status, body)
				if status == http.StatusOK {
					break
				}
			}
			status, body := exchange(t, rp, code, rp.conf.RedirectURL, ar.Verifier)
			if status == http.StatusOK && claim(body, "access_token") == "" {
				t.Errorf("exchange with the right verifier: %s", describe(status, body))
			}
		}
	})

	t.Run("case=a code after its lifetime is refused", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		code, ar := codeOf(t, basic, s.browser(), u, nil)
		key := "latch:code:" + code[strings.LastIndexByte(code, '.')+1:]
		raw, err := s.rdb.Get(t.Context(), key).Bytes()
		if err != nil {
			t.Fatalf("code record %s: %v", key, err)
		}
		// Age the code as time would: its session's expiry in the past.
		var rec map[string]any
		if err := json.Unmarshal(raw, &rec); err != nil {
			t.Fatal(err)
		}
		past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
		aged := false
		var walk func(v any)
		walk = func(v any) {
			m, ok := v.(map[string]any)
			if !ok {
				return
			}
			for k, x := range m {
				if k == "expires_at" {
					if e, ok := x.(map[string]any); ok {
						e["authorize_code"] = past
						aged = true
					}
				}
				walk(x)
			}
		}
		walk(rec)
		if !aged {
			t.Fatalf("no code expiry in %s", raw)
		}
		raw, _ = json.Marshal(rec)
		if err := s.rdb.Set(t.Context(), key, raw, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		status, body := exchange(t, basic, code, basic.conf.RedirectURL, ar.Verifier)
		invalidGrant(t, "expired code", status, body)
	})

	t.Run("case=an ID token has no nonce when the request had none", func(t *testing.T) {
		u := s.user(t, storage.RoleUser)
		code, ar := codeOf(t, basic, s.browser(), u, map[string]string{"nonce": ""})
		status, body := exchange(t, basic, code, basic.conf.RedirectURL, ar.Verifier)
		if status != http.StatusOK {
			t.Fatalf("exchange: %s", describe(status, body))
		}
		_, claims := s.verifyJWT(t, claim(body, "id_token"))
		if _, ok := claims["nonce"]; ok {
			t.Errorf("ID token nonce %v, want none", claims["nonce"])
		}
	})
}
