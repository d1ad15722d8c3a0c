package rs

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// introspector asks the issuer whether a token is still active (RFC 7662)
// and trusts an active answer for a short time.
type introspector struct {
	client   *http.Client
	endpoint string
	id, sec  string
	ttl      time.Duration

	mu     sync.Mutex
	active map[[32]byte]time.Time // token hash → until when an active answer holds
}

func newIntrospector(client *http.Client, endpoint string, in Introspection) *introspector {
	ttl := in.CacheTTL
	if ttl <= 0 {
		ttl = DefaultIntrospectionTTL
	}
	return &introspector{client: client, endpoint: endpoint, id: in.ClientID, sec: in.ClientSecret, ttl: ttl, active: map[[32]byte]time.Time{}}
}

// check refuses a token the issuer no longer holds active. Failing to ask
// is ErrUnavailable: strict mode never lets a token through unasked.
func (in *introspector) check(ctx context.Context, token string, c *Claims) error {
	key := sha256.Sum256([]byte(token))
	now := time.Now()
	in.mu.Lock()
	until, ok := in.active[key]
	in.mu.Unlock()
	if ok && now.Before(until) {
		return nil
	}
	active, err := in.ask(ctx, token, c)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if !active {
		in.mu.Lock()
		delete(in.active, key)
		in.mu.Unlock()
		return invalid("The access token was revoked.")
	}
	until = now.Add(in.ttl)
	if until.After(c.ExpiresAt) {
		until = c.ExpiresAt
	}
	in.mu.Lock()
	if len(in.active) >= maxCached {
		in.active = map[[32]byte]time.Time{}
	}
	in.active[key] = until
	in.mu.Unlock()
	return nil
}

// ask introspects token. An answer counts as active only for this very
// token: an access token of the same subject and client.
func (in *introspector) ask(ctx context.Context, token string, c *Claims) (bool, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 section 2.3.1: the credentials are form-encoded first.
	req.SetBasicAuth(url.QueryEscape(in.id), url.QueryEscape(in.sec))
	resp, err := in.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("introspection answered %s", resp.Status)
	}
	var ans struct {
		Active   bool   `json:"active"`
		Sub      string `json:"sub"`
		ClientID string `json:"client_id"`
		TokenUse string `json:"token_use"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ans); err != nil {
		return false, fmt.Errorf("introspection answer is not JSON: %v", err)
	}
	ok := ans.Active && ans.Sub == c.Subject && ans.ClientID == c.ClientID && (ans.TokenUse == "" || ans.TokenUse == "access_token")
	return ok, nil
}
