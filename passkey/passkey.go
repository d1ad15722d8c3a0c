package passkey

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/storage"
)

// Store is the part of storage.Store the ceremonies read and update.
type Store interface {
	GetPasskey(ctx context.Context, id []byte) (storage.Passkey, error)
	ListPasskeys(ctx context.Context, userID string) ([]storage.Passkey, error)
	UsePasskey(ctx context.Context, id []byte, use storage.PasskeyUse) error
	AppendAudit(ctx context.Context, e storage.AuditEvent) error
}

// Config holds a Service's settings and dependencies.
type Config struct {
	// Issuer is latch's public base URL. The relying party ID is its host
	// and the one origin allowed is its scheme and host, unless RPID and
	// Origins say otherwise.
	Issuer string
	// RPID overrides the relying party ID: a registrable suffix of the
	// issuer's host (example.com for login.example.com), so that passkeys
	// outlive a move between subdomains. Passkeys are bound to it for
	// good: changing it later makes every registered passkey useless.
	RPID string
	// Origins overrides the origins ceremonies may come from.
	Origins []string
	// Name is the relying party's name authenticators show.
	Name  string
	Store Store
	Redis redis.UniversalClient
	Log   *slog.Logger
}

// Service runs the ceremonies.
type Service struct {
	c  Config
	wa *webauthn.WebAuthn // nil when passkeys are off (Off)
	// off says why passkeys are off: the issuer's host is an IP address,
	// which WebAuthn cannot use as a relying party.
	off string
}

// ErrOff is returned by every ceremony while passkeys are off.
var ErrOff = errors.New("passkey: passkeys are off: WebAuthn needs the issuer on a domain name, not an IP address")

// Off says why passkeys are off, or "" when they are on. Pages offer no
// passkey while they are off.
func (s *Service) Off() string { return s.off }

// CeremonyTTL bounds how long a ceremony may take, from its options to its
// answer: long enough to find a security key, short enough that a
// challenge left in a page is soon useless.
const CeremonyTTL = 5 * time.Minute

// MaxNameLength bounds a passkey's name, in characters.
const MaxNameLength = 64

// New checks the settings and returns the service.
func New(c Config) (*Service, error) {
	if c.Store == nil || c.Redis == nil {
		return nil, errors.New("passkey: missing Store or Redis")
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.Name == "" {
		c.Name = "latch"
	}
	rpID, origins, err := relyingParty(c.Issuer, c.RPID, c.Origins)
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	c.RPID, c.Origins = rpID, origins
	if !On(c.Issuer, c.RPID) {
		return &Service{c: c, off: ErrOff.Error()}, nil
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:                  c.RPID,
		RPDisplayName:         c.Name,
		RPOrigins:             c.Origins,
		AttestationPreference: protocol.PreferNoAttestation,
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Enforce: true, Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Enforce: true, Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("passkey: %w", err)
	}
	return &Service{c: c, wa: wa}, nil
}

// On reports whether passkeys work for the issuer and RP ID (New's
// settings): WebAuthn needs a domain name, and an issuer on an IP address
// has none.
func On(issuer, rpID string) bool {
	id, _, err := relyingParty(issuer, rpID, nil)
	return err == nil && net.ParseIP(id) == nil
}

// CheckSettings checks the relying party settings (LATCH_WEBAUTHN_RP_ID,
// LATCH_WEBAUTHN_ORIGINS) against the issuer, as New does, for a check at
// start-up.
func CheckSettings(issuer, rpID string, origins []string) error {
	_, _, err := relyingParty(issuer, rpID, origins)
	return err
}

// relyingParty settles the relying party ID and origins: the issuer's host
// and origin unless set; a set RP ID must be the issuer's host or a parent
// domain of it, and each origin an https origin (http on loopback) within
// the RP ID.
func relyingParty(issuer, rpID string, origins []string) (string, []string, error) {
	iss, err := url.Parse(issuer)
	if err != nil || iss.Hostname() == "" {
		return "", nil, fmt.Errorf("issuer %q is not an absolute URL", issuer)
	}
	host := iss.Hostname()
	if rpID == "" {
		rpID = host
	}
	if len(origins) == 0 {
		origins = []string{iss.Scheme + "://" + iss.Host}
	}
	if host != rpID && !strings.HasSuffix(host, "."+rpID) {
		return "", nil, fmt.Errorf("the RP ID %q is neither the issuer's host %q nor a parent domain of it", rpID, host)
	}
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || u.Path != "" || (u.Scheme != "https" && (u.Scheme != "http" || !loopback(u.Hostname()))) {
			return "", nil, fmt.Errorf("origin %q is not an https origin (http only on localhost)", o)
		}
		if h := u.Hostname(); h != rpID && !strings.HasSuffix(h, "."+rpID) {
			return "", nil, fmt.Errorf("origin %q is not within the RP ID %q", o, rpID)
		}
	}
	return rpID, origins, nil
}

func loopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// RPID returns the relying party ID in use.
func (s *Service) RPID() string { return s.c.RPID }

// Ceremony kinds; each binds its challenge to a different browser state.
const (
	KindRegister = "register" // the account page; bound to the session
	KindVerify   = "verify"   // the second factor; bound to the pending sign-in
	KindSignIn   = "signin"   // passwordless; bound to the CSRF cookie's token
)

// Errors a ceremony's answer may end with. Neither says more to the
// browser than that the passkey could not be used; the log has the reason.
var (
	// ErrExpired: the ceremony is unknown, used, expired, or belongs to
	// another browser state.
	ErrExpired = errors.New("passkey: ceremony expired or already used")
	// ErrRefused: the authenticator's answer does not verify.
	ErrRefused = errors.New("passkey: not accepted")
)

// ceremony is what Redis keeps between the options and the answer.
type ceremony struct {
	Kind    string               `json:"kind"`
	Binding []byte               `json:"binding"` // hash of the browser state it belongs to
	UserID  string               `json:"user_id,omitempty"`
	Session webauthn.SessionData `json:"session"`
}

func ceremonyKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return "latch:passkey:ceremony:" + hex.EncodeToString(sum[:])
}

func bindingHash(kind, state string) []byte {
	sum := sha256.Sum256([]byte("latch passkey ceremony v1\x00" + kind + "\x00" + state))
	return sum[:]
}

// Options are what the page's script hands to navigator.credentials: the
// JSON of the creation or request options, and the ceremony's ID, which
// comes back with the answer.
type Options struct {
	Ceremony string          `json:"ceremony"`
	Options  json.RawMessage `json:"options"`
}

func (s *Service) start(ctx context.Context, kind, state, userID string, session *webauthn.SessionData, options any) (Options, error) {
	if state == "" {
		return Options{}, errors.New("passkey: a ceremony without the browser state it belongs to")
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return Options{}, err
	}
	id := base64.RawURLEncoding.EncodeToString(b)
	data, err := json.Marshal(ceremony{Kind: kind, Binding: bindingHash(kind, state), UserID: userID, Session: *session})
	if err != nil {
		return Options{}, err
	}
	opts, err := json.Marshal(options)
	if err != nil {
		return Options{}, err
	}
	if err := s.c.Redis.Set(ctx, ceremonyKey(id), data, CeremonyTTL).Err(); err != nil {
		return Options{}, fmt.Errorf("passkey: store ceremony: %w", storage.MarkUnavailable(err))
	}
	return Options{Ceremony: id, Options: opts}, nil
}

// take removes the ceremony and returns it when it is of kind and bound
// to state: of two answers to one challenge, one is checked.
func (s *Service) take(ctx context.Context, kind, state, id string) (ceremony, error) {
	if s.wa == nil {
		return ceremony{}, ErrOff
	}
	if id == "" || len(id) > 64 || state == "" {
		return ceremony{}, ErrExpired
	}
	data, err := s.c.Redis.GetDel(ctx, ceremonyKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return ceremony{}, ErrExpired
	} else if err != nil {
		return ceremony{}, fmt.Errorf("passkey: take ceremony: %w", storage.MarkUnavailable(err))
	}
	var c ceremony
	if err := json.Unmarshal(data, &c); err != nil {
		return ceremony{}, fmt.Errorf("passkey: decode ceremony: %w", err)
	}
	if c.Kind != kind || subtle.ConstantTimeCompare(c.Binding, bindingHash(kind, state)) != 1 {
		return ceremony{}, ErrExpired
	}
	return c, nil
}

// user is a latch user as the WebAuthn library sees it. The user handle is
// the user's ID: random (a UUID), stable, and never an address.
type user struct {
	u     storage.User
	creds []webauthn.Credential
}

func (w *user) WebAuthnID() []byte                         { return []byte(w.u.ID) }
func (w *user) WebAuthnName() string                       { return w.u.Email }
func (w *user) WebAuthnCredentials() []webauthn.Credential { return w.creds }
func (w *user) WebAuthnDisplayName() string {
	if w.u.Name != "" {
		return w.u.Name
	}
	return w.u.Email
}

func newUser(u storage.User, passkeys []storage.Passkey) *user {
	w := &user{u: u}
	for _, p := range passkeys {
		w.creds = append(w.creds, credentialOf(p))
	}
	return w
}

func credentialOf(p storage.Passkey) webauthn.Credential {
	c := webauthn.Credential{
		ID:              p.ID,
		PublicKey:       p.PublicKey,
		AttestationType: p.AttestationType,
		Flags:           webauthn.CredentialFlags{UserPresent: true, BackupEligible: p.BackupEligible, BackupState: p.BackupState},
		Authenticator:   webauthn.Authenticator{AAGUID: p.AAGUID, SignCount: p.SignCount},
	}
	for _, t := range p.Transports {
		c.Transport = append(c.Transport, protocol.AuthenticatorTransport(t))
	}
	return c
}

// BeginRegistration starts adding a passkey for u, who has passkeys
// already (the authenticator is asked not to make a second one for the
// same account), bound to the account session sessionID. The passkey is
// discoverable (it can sign in without a password), and user verification
// is preferred.
func (s *Service) BeginRegistration(ctx context.Context, u storage.User, existing []storage.Passkey, sessionID string) (Options, error) {
	if s.wa == nil {
		return Options{}, ErrOff
	}
	w := newUser(u, existing)
	creation, session, err := s.wa.BeginRegistration(w,
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationPreferred,
		}),
		webauthn.WithExclusions(webauthn.Credentials(w.creds).CredentialDescriptors()),
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()),
	)
	if err != nil {
		return Options{}, fmt.Errorf("passkey: begin registration: %w", err)
	}
	return s.start(ctx, KindRegister, sessionID, u.ID, session, creation)
}

// FinishRegistration checks the authenticator's answer to the ceremony
// and returns the new passkey, named name, for the caller to store.
func (s *Service) FinishRegistration(ctx context.Context, u storage.User, sessionID, ceremonyID string, answer []byte, name string) (storage.Passkey, error) {
	c, err := s.take(ctx, KindRegister, sessionID, ceremonyID)
	if err != nil {
		return storage.Passkey{}, err
	}
	if c.UserID != u.ID {
		return storage.Passkey{}, ErrExpired
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(answer)
	if err != nil {
		s.refused(ctx, "registration answer unreadable", err)
		return storage.Passkey{}, ErrRefused
	}
	cred, err := s.wa.CreateCredential(newUser(u, nil), c.Session, parsed)
	if err != nil {
		s.refused(ctx, "registration answer refused", err)
		return storage.Passkey{}, ErrRefused
	}
	p := storage.Passkey{
		ID: cred.ID, UserID: u.ID, Name: name, PublicKey: cred.PublicKey, AAGUID: cred.Authenticator.AAGUID,
		AttestationType: cred.AttestationType, SignCount: cred.Authenticator.SignCount,
		BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState,
	}
	for _, t := range cred.Transport {
		p.Transports = append(p.Transports, string(t))
	}
	return p, nil
}

func (s *Service) refused(ctx context.Context, what string, err error) {
	var perr *protocol.Error
	if errors.As(err, &perr) {
		s.c.Log.InfoContext(ctx, "passkey: "+what, "type", perr.Type, "details", perr.Details)
		return
	}
	s.c.Log.InfoContext(ctx, "passkey: "+what, "err", err)
}

// Assertion is a passkey that signed in.
type Assertion struct {
	UserID  string
	Passkey storage.Passkey
	// UserVerified: the authenticator checked a PIN or a biometric.
	UserVerified bool
}

// AMR is how an assertion authenticated, in RFC 8176's words: hwk for a
// key bound to one device, swk for a passkey that may be synced between
// devices (the key is held by software outside latch's reach), and user
// for the presence test every assertion makes.
func (a Assertion) AMR() []string {
	kind := "hwk"
	if a.Passkey.BackupEligible {
		kind = "swk"
	}
	return []string{kind, "user"}
}

// BeginVerify starts checking a passkey of u as the second factor, bound
// to the pending sign-in pendingID. User verification is preferred: the
// password was the first factor.
func (s *Service) BeginVerify(ctx context.Context, u storage.User, passkeys []storage.Passkey, pendingID string) (Options, error) {
	if s.wa == nil {
		return Options{}, ErrOff
	}
	assertion, session, err := s.wa.BeginLogin(newUser(u, passkeys), webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return Options{}, fmt.Errorf("passkey: begin verification: %w", err)
	}
	return s.start(ctx, KindVerify, pendingID, u.ID, session, assertion)
}

// FinishVerify checks the answer to a second-factor ceremony.
func (s *Service) FinishVerify(ctx context.Context, u storage.User, passkeys []storage.Passkey, pendingID, ceremonyID string, answer []byte) (Assertion, error) {
	c, err := s.take(ctx, KindVerify, pendingID, ceremonyID)
	if err != nil {
		return Assertion{}, err
	}
	if c.UserID != u.ID {
		return Assertion{}, ErrExpired
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(answer)
	if err != nil {
		s.refused(ctx, "assertion unreadable", err)
		return Assertion{}, ErrRefused
	}
	cred, err := s.wa.ValidateLogin(newUser(u, passkeys), c.Session, parsed)
	if err != nil {
		s.refused(ctx, "assertion refused", err)
		return Assertion{}, ErrRefused
	}
	return s.used(ctx, u.ID, passkeys, cred, parsed)
}

// BeginSignIn starts a passwordless sign-in with a discoverable passkey,
// bound to state (the browser's CSRF token). User verification is
// required: the passkey is both factors.
func (s *Service) BeginSignIn(ctx context.Context, state string) (Options, error) {
	if s.wa == nil {
		return Options{}, ErrOff
	}
	assertion, session, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return Options{}, fmt.Errorf("passkey: begin sign-in: %w", err)
	}
	return s.start(ctx, KindSignIn, state, "", session, assertion)
}

// FinishSignIn checks the answer to a passwordless sign-in and returns
// whose passkey it was. The caller decides whether that user may sign in.
func (s *Service) FinishSignIn(ctx context.Context, state, ceremonyID string, answer []byte) (Assertion, error) {
	c, err := s.take(ctx, KindSignIn, state, ceremonyID)
	if err != nil {
		return Assertion{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(answer)
	if err != nil {
		s.refused(ctx, "assertion unreadable", err)
		return Assertion{}, ErrRefused
	}
	var owner storage.Passkey
	var passkeys []storage.Passkey
	var lookup error
	handler := func(rawID, userHandle []byte) (webauthn.User, error) {
		p, err := s.c.Store.GetPasskey(ctx, rawID)
		if err != nil {
			lookup = err
			return nil, err
		}
		if subtle.ConstantTimeCompare([]byte(p.UserID), userHandle) != 1 {
			return nil, errors.New("user handle does not own the passkey")
		}
		owner = p
		// Only this passkey: the library checks the assertion against it.
		passkeys = []storage.Passkey{p}
		return newUser(storage.User{ID: p.UserID}, passkeys), nil
	}
	_, cred, err := s.wa.ValidatePasskeyLogin(handler, c.Session, parsed)
	if lookup != nil && !errors.Is(lookup, storage.ErrNotFound) {
		return Assertion{}, lookup
	}
	if err != nil {
		s.refused(ctx, "passwordless assertion refused", err)
		return Assertion{}, ErrRefused
	}
	return s.used(ctx, owner.UserID, passkeys, cred, parsed)
}

// used records a verified assertion: the counter (a counter that did not
// grow, on an authenticator that keeps one, may be a cloned key: logged
// and audited, the sign-in goes on), the backup state and the time.
func (s *Service) used(ctx context.Context, userID string, passkeys []storage.Passkey, cred *webauthn.Credential, parsed *protocol.ParsedCredentialAssertionData) (Assertion, error) {
	var p storage.Passkey
	for _, k := range passkeys {
		if bytes.Equal(k.ID, cred.ID) {
			p = k
		}
	}
	if p.ID == nil {
		return Assertion{}, ErrRefused
	}
	count := parsed.Response.AuthenticatorData.Counter
	if cred.Authenticator.CloneWarning {
		s.c.Log.WarnContext(ctx, "passkey: signature counter did not grow: possibly a cloned authenticator",
			"user_id", userID, "stored", p.SignCount, "presented", count)
		e := storage.AuditEvent{At: time.Now().UTC(), Kind: "passkey_counter_regressed", UserID: userID,
			Detail: map[string]string{"passkey": p.Name}}
		if err := s.c.Store.AppendAudit(ctx, e); err != nil {
			s.c.Log.ErrorContext(ctx, "passkey: append audit event", "err", err)
		}
	}
	flags := parsed.Response.AuthenticatorData.Flags
	use := storage.PasskeyUse{SignCount: count, BackupState: flags.HasBackupState(), At: time.Now().UTC()}
	if err := s.c.Store.UsePasskey(ctx, p.ID, use); errors.Is(err, storage.ErrNotFound) {
		return Assertion{}, ErrRefused // removed while it was being used
	} else if err != nil {
		return Assertion{}, err
	}
	p.SignCount, p.BackupState, p.LastUsedAt = max(p.SignCount, count), use.BackupState, use.At
	return Assertion{UserID: userID, Passkey: p, UserVerified: flags.HasUserVerified()}, nil
}

// ID encodes a passkey's credential ID for pages and URLs.
func ID(p storage.Passkey) string { return base64.RawURLEncoding.EncodeToString(p.ID) }

// ParseID decodes what ID encoded.
func ParseID(s string) ([]byte, bool) {
	if s == "" || len(s) > 1400 {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	return b, err == nil && len(b) > 0
}

// Authentication context classes (OpenID Connect acr values) a passkey
// sign-in reaches, from the OpenID EAP ACR Values specification:
// phishing-resistant, and phishing-resistant with a hardware-bound key.
const (
	ACRPhishingResistant         = "phr"
	ACRPhishingResistantHardware = "phrh"
)

// ACRValues are the acr values latch knows, strongest last.
var ACRValues = []string{ACRPhishingResistant, ACRPhishingResistantHardware}

// ACR is the authentication context class a sign-in with these amr
// values reached: phrh when a device-bound passkey signed in, phr for a
// synced one, "" without a passkey.
func ACR(amr []string) string {
	switch {
	case slices.Contains(amr, "hwk"):
		return ACRPhishingResistantHardware
	case slices.Contains(amr, "swk"):
		return ACRPhishingResistant
	}
	return ""
}

// Satisfies reports whether a sign-in with these amr values reaches the
// class required ("" requires nothing).
func Satisfies(required string, amr []string) bool {
	switch required {
	case "":
		return true
	case ACRPhishingResistant:
		return ACR(amr) != ""
	case ACRPhishingResistantHardware:
		return ACR(amr) == ACRPhishingResistantHardware
	}
	return false
}

// Required is the class a request's acr_values (space-separated, in
// order of preference) make latch insist on: the weakest of the passkey
// classes it names, since any of them would do; "" when it names none.
func Required(acrValues string) string {
	fields := strings.Fields(acrValues)
	for _, v := range ACRValues {
		if slices.Contains(fields, v) {
			return v
		}
	}
	return ""
}

// Stronger returns the stronger of two classes of ACRValues ("" is the
// weakest).
func Stronger(a, b string) string {
	if slices.Index(ACRValues, a) > slices.Index(ACRValues, b) {
		return a
	}
	return b
}
