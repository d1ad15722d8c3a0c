// Package flow holds the state of one authorization request while the user
// logs in and consents. provider creates a flow and decides each next step;
// login and consent advance it and send the browser back to provider's resume
// endpoint. A flow is single use, expires, and each step accepts it only in
// the stage meant for that step, so a login state is never replayed as a
// consent state.
//
// Flows live in Redis; they hold no secrets beyond the authorization
// request's own parameters.
package flow

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// Stage is the step a flow waits for.
type Stage string

const (
	StageLogin   Stage = "login"   // waits for the user to authenticate
	StageConsent Stage = "consent" // waits for the user's decision
	StageResume  Stage = "resume"  // waits for provider to finish it
)

// ErrNotFound is returned for an unknown, expired or already used flow, or
// one that is not in the expected stage.
var ErrNotFound = errors.New("flow: not found or expired")

// Flow is one authorization request in progress.
type Flow struct {
	ID    string `json:"id"`
	Stage Stage  `json:"stage"`

	// Set by provider when the flow starts.
	ClientID   string   `json:"client_id"`
	ClientName string   `json:"client_name"`
	Query      string   `json:"query"`  // the authorize request's parameters, URL-encoded
	Scopes     []string `json:"scopes"` // requested scopes the client may have
	// APIs names the API resources the client asks to reach, for the
	// consent page (RFC 8707).
	APIs         []string  `json:"apis,omitempty"`
	ForceLogin   bool      `json:"force_login,omitempty"`
	LoginHint    string    `json:"login_hint,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	RequireFresh time.Time `json:"require_fresh,omitempty"` // authentication must be after this (max_age, prompt=login)
	// ACR is the authentication context class the sign-in must reach
	// (passkey.Satisfies): set when the app asks for a passkey.
	ACR string `json:"acr,omitempty"`
	// UnregisteredHost is set when the client is not registered but
	// identified by the URL of its metadata document: the host serving
	// it. The consent page names the client by it, says it is not
	// registered, and never remembers the decision.
	UnregisteredHost string `json:"unregistered_host,omitempty"`
	// Device is set when the flow answers a device authorization (RFC
	// 8628) rather than an authorization request: the key of its device
	// code. The consent page then says plainly that a device asks, and
	// provider records the decision for the device instead of redirecting
	// to the client. UserCode is the code the user entered, shown again
	// so it can be compared with the device's.
	Device   string `json:"device,omitempty"`
	UserCode string `json:"user_code,omitempty"`

	// Set by login.
	UserID    string    `json:"user_id,omitempty"`
	SessionID string    `json:"session_id,omitempty"` // the browser session's public ID
	AuthTime  time.Time `json:"auth_time,omitempty"`
	AMR       []string  `json:"amr,omitempty"`

	// Set by consent.
	Consented     bool     `json:"consented,omitempty"`
	Denied        bool     `json:"denied,omitempty"`
	GrantedScopes []string `json:"granted_scopes,omitempty"`
}

// Pages are the paths of the endpoints that take a flow in each stage,
// named by the packages that own them (login, consent, provider's resume
// endpoint) and handed over by the composition root, so that each is
// written once and flow imports none of them.
type Pages struct {
	Login   string // StageLogin
	Consent string // StageConsent
	Resume  string // StageResume
}

// Store keeps flows in Redis.
type Store struct {
	rdb   redis.UniversalClient
	ttl   time.Duration
	pages Pages
}

// NewStore returns a store whose flows expire after ttl.
func NewStore(rdb redis.UniversalClient, ttl time.Duration, pages Pages) *Store {
	return &Store{rdb: rdb, ttl: ttl, pages: pages}
}

// URL is where the browser goes to continue flow id in stage.
func (s *Store) URL(stage Stage, id string) string {
	path := s.pages.Resume
	switch stage {
	case StageLogin:
		path = s.pages.Login
	case StageConsent:
		path = s.pages.Consent
	}
	return path + "?flow=" + url.QueryEscape(id)
}

func key(id string) string { return "latch:flow:" + id }

// Create stores a new flow, assigning its ID.
func (s *Store) Create(ctx context.Context, f *Flow) error {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	f.ID = base64.RawURLEncoding.EncodeToString(b)
	if f.CreatedAt.IsZero() {
		f.CreatedAt = time.Now().UTC()
	}
	return s.save(ctx, f, true)
}

// Save stores changes to an existing flow; ErrNotFound if it is gone.
func (s *Store) Save(ctx context.Context, f *Flow) error {
	return s.save(ctx, f, false)
}

func (s *Store) save(ctx context.Context, f *Flow, create bool) error {
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("flow: encode: %w", err)
	}
	args := redis.SetArgs{TTL: s.ttl}
	if create {
		args.Mode = "NX"
	} else {
		args.Mode = "XX"
		args.KeepTTL = true
		args.TTL = 0
	}
	res, err := s.rdb.SetArgs(ctx, key(f.ID), b, args).Result()
	if errors.Is(err, redis.Nil) || (err == nil && res != "OK") {
		return ErrNotFound
	}
	return err
}

// Get returns the flow if it waits in stage.
func (s *Store) Get(ctx context.Context, id string, stage Stage) (*Flow, error) {
	if id == "" {
		return nil, ErrNotFound
	}
	b, err := s.rdb.Get(ctx, key(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	return decode(b, stage)
}

// Take returns the flow if it waits in stage and removes it, in one atomic
// step: of two racing takes only one gets the flow.
func (s *Store) Take(ctx context.Context, id string, stage Stage) (*Flow, error) {
	if id == "" {
		return nil, ErrNotFound
	}
	b, err := s.rdb.GetDel(ctx, key(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, err
	}
	return decode(b, stage)
}

func decode(b []byte, stage Stage) (*Flow, error) {
	var f Flow
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("flow: decode: %w", err)
	}
	if f.Stage != stage {
		return nil, ErrNotFound
	}
	return &f, nil
}
