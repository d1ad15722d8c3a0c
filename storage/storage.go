// Package storage defines latch's durable data model and the contract every
// durable backend (storage/postgres, storage/memory) fulfils. Short-lived
// state lives in Redis (storage/redis) and never here.
//
// Backends must never log or return secrets in errors.
package storage

import (
	"context"
	"errors"
	"strings"
	"time"
)

var (
	// ErrNotFound is returned when a record does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrAlreadyExists is returned when a unique constraint is violated.
	ErrAlreadyExists = errors.New("storage: already exists")
	// ErrInactive is returned when a refresh token that is neither active
	// nor in its grace period is rotated.
	ErrInactive = errors.New("storage: refresh token not active")
	// ErrConflict is returned when a transaction lost to a concurrent one
	// (a serialization failure or a deadlock); retrying may succeed.
	ErrConflict = errors.New("storage: concurrent change, retry")
)

// Roles a user can have.
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// Token endpoint authentication methods (RFC 7591 names).
const (
	AuthMethodBasic = "client_secret_basic"
	AuthMethodPost  = "client_secret_post"
	AuthMethodNone  = "none"
	// AuthMethodPrivateKeyJWT authenticates with a JWT signed by a key the
	// client registered (JWKS or JWKSURI), RFC 7523.
	AuthMethodPrivateKeyJWT = "private_key_jwt"
)

// ValidClientID reports whether id may name a client: 1 to 128
// characters, without spaces or the URL delimiters ':', '/', '?' and '#'
// (a client identified by a URL is a metadata document, not a stored
// client).
func ValidClientID(id string) bool {
	return id != "" && len(id) <= 128 && !strings.ContainsAny(id, " \t\r\n:/?#")
}

// Client is a registered OAuth 2.0 client. Field names follow RFC 7591.
type Client struct {
	ID                      string
	Name                    string
	SecretHash              []byte // keyed hash of the secret; nil for public clients
	RedirectURIs            []string
	GrantTypes              []string
	ResponseTypes           []string
	Scopes                  []string
	TokenEndpointAuthMethod string
	PostLogoutRedirectURIs  []string
	FirstParty              bool
	// BackchannelLogoutURI is where latch posts a logout token when a
	// session the client took part in ends (OpenID Connect Back-Channel
	// Logout 1.0); empty: the client is not told. With
	// BackchannelLogoutSessionRequired the token must carry the sid.
	BackchannelLogoutURI             string
	BackchannelLogoutSessionRequired bool
	// DPoPBoundAccessTokens makes every access token of the client
	// sender-constrained (RFC 9449): a token request without a DPoP proof
	// is refused.
	DPoPBoundAccessTokens bool
	// IDTokenSignedResponseAlg is the algorithm the client's ID tokens and
	// logout tokens are signed with (OpenID Connect Dynamic Client
	// Registration); "" for the server's (LATCH_ID_TOKEN_ALG).
	IDTokenSignedResponseAlg string
	// MinimumACR is the authentication context class every sign-in to
	// the client must reach (passkey.Satisfies: "phr" or "phrh", a
	// passkey); "" asks for nothing beyond the account's own factors.
	MinimumACR string
	// For private_key_jwt: the client's public keys, inline (a JWK Set in
	// JSON) or by URL, and the algorithm its assertions use.
	JWKS                        string
	JWKSURI                     string
	TokenEndpointAuthSigningAlg string
	// RegistrationTokenHash is the keyed hash of the registration access
	// token of a client that registered itself (RFC 7591), which manages
	// it (RFC 7592); nil for clients an administrator made.
	RegistrationTokenHash []byte
	CreatedAt             time.Time
	UpdatedAt             time.Time
}

// SelfRegistered reports whether the client registered itself (RFC 7591).
func (c Client) SelfRegistered() bool { return c.RegistrationTokenHash != nil }

// InitialAccessToken lets whoever holds it register clients when
// registration asks for one (RFC 7591 section 3). Only its keyed hash is
// stored.
type InitialAccessToken struct {
	ID        string
	Hash      []byte
	MaxUses   int // 0: any number
	Uses      int
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Public reports whether the client authenticates without a secret.
func (c Client) Public() bool { return c.TokenEndpointAuthMethod == AuthMethodNone }

// Resource is an API that accepts latch's access tokens (RFC 8707 calls it
// a resource, RFC 9068 an audience). Each of its scopes belongs to it
// alone: no two resources share a scope.
type Resource struct {
	ID             string // the resource identifier: an absolute URI without a fragment
	Name           string
	Scopes         []string
	AccessTokenTTL time.Duration // zero: the server's access token lifetime
	// IntrospectionClients are the IDs of the clients the resource
	// authenticates as at introspection: each may introspect the access
	// tokens meant for the resource.
	IntrospectionClients []string
	CreatedAt            time.Time
	UpdatedAt            time.Time
}

// User is a person who logs in to latch.
type User struct {
	ID                 string // UUID
	Email              string // unique, compared case-insensitively
	Name               string
	Role               string
	PasswordHash       string // PHC string (Argon2id)
	PasswordMustChange bool
	Disabled           bool
	EmailVerified      bool
	TOTPSecret         []byte // sealed with the system secret; nil when TOTP is off
	// TOTPEnabledAt is when the current TOTP secret was set; zero when TOTP
	// is off. Backends keep it in step with TOTPSecret (SettleTOTP).
	TOTPEnabledAt time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	LastLoginAt   time.Time // zero when the user never logged in
	// Locale is the language code ("en", "de") of the user's emails when
	// no request of theirs causes one: that of their last sign-in or of
	// their registration; empty for English.
	Locale string
}

// TOTPEnabled reports whether the user has a confirmed TOTP secret.
func (u User) TOTPEnabled() bool { return len(u.TOTPSecret) > 0 }

// SettleTOTP keeps TOTPEnabledAt in step with TOTPSecret after a write at
// now: zero when TOTP is off, now when it has just been turned on.
func (u *User) SettleTOTP(now time.Time) {
	switch {
	case !u.TOTPEnabled():
		u.TOTPEnabledAt = time.Time{}
	case u.TOTPEnabledAt.IsZero():
		u.TOTPEnabledAt = now
	}
}

// Passkey is a WebAuthn credential a user registered: a passkey or a
// security key. Only its public key is stored.
type Passkey struct {
	ID        []byte // the credential ID the authenticator chose; unique
	UserID    string
	Name      string
	PublicKey []byte // COSE_Key
	// AAGUID names the authenticator model (all zero when it does not say).
	AAGUID          []byte
	AttestationType string
	Transports      []string // hints for the browser: usb, nfc, ble, internal, hybrid
	// SignCount is the highest signature counter seen; zero for
	// authenticators that keep none (most synced passkeys).
	SignCount uint32
	// BackupEligible: the credential may be synced to other devices (a
	// software-held passkey), fixed at registration. BackupState: it is
	// backed up now.
	BackupEligible bool
	BackupState    bool
	CreatedAt      time.Time
	LastUsedAt     time.Time // zero when never used
}

// PasskeyUse is what a successful assertion updates on its passkey.
type PasskeyUse struct {
	SignCount   uint32
	BackupState bool
	At          time.Time
}

// Consent is a user's remembered decision to grant scopes to a client.
type Consent struct {
	UserID    string
	ClientID  string
	Scopes    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SigningKey is a JWT signing key. The private key is sealed with the system
// secret before it reaches a backend; backends store it opaquely.
type SigningKey struct {
	ID         string // kid
	Algorithm  string // RS256 or ES256
	PrivateKey []byte // sealed
	PublicKey  []byte // public JWK, JSON
	CreatedAt  time.Time
	// ActiveAt is when the key starts signing; it is published before then.
	ActiveAt time.Time
}

// AuditEvent is one security-relevant event.
type AuditEvent struct {
	ID        int64
	At        time.Time
	Kind      string // e.g. "refresh_token_reuse", "login_failed", "password_changed"
	UserID    string
	ClientID  string
	IP        string
	UserAgent string
	Detail    map[string]string
}

// AuditQuery selects audit events; a zero field selects all.
type AuditQuery struct {
	Kind     string
	UserID   string
	ClientID string
	Since    time.Time // at or after
	Until    time.Time // before
	BeforeID int64     // only events older than this one: the cursor of the next page
	Limit    int       // at most this many; 0: all
}

// MailJob is an email to deliver. It is enqueued in the same transaction as
// the change that calls for it. Template names a template of package mail;
// Data fills it.
type MailJob struct {
	To       string            `json:"to"`
	Template string            `json:"template"`
	Data     map[string]string `json:"data"`
	// Locale is the language code of the email ("de"); empty: English.
	Locale string `json:"locale,omitempty"`
}

// Kind names the job for the queue (river.JobArgs).
func (MailJob) Kind() string { return "mail" }

// Effects are written atomically with the change that calls for them.
type Effects struct {
	Audit []AuditEvent
	Mail  []MailJob
}

// RefreshToken is the durable record of one refresh token. Rotated tokens are
// deactivated, not deleted, so that a later reuse is still recognised.
type RefreshToken struct {
	Signature       string
	RequestID       string // the family: every token of one authorization shares it
	ClientID        string
	UserID          string // empty for tokens without a user
	AccessSignature string
	Active          bool
	RotatedAt       time.Time // zero unless rotated
	RevokedAt       time.Time // zero unless revoked
	CreatedAt       time.Time
	ExpiresAt       time.Time // zero: no expiry
	Request         []byte    // the grant, serialized by its owner (provider); opaque here
	// State is set when the token is read (GetRefreshToken).
	State RefreshState
}

// RefreshState is where a refresh token stands when it is read.
type RefreshState int

const (
	// RefreshActive: the token may be exchanged.
	RefreshActive RefreshState = iota + 1
	// RefreshInGrace: the token was rotated, not revoked, less than the
	// grace period ago (measured by the backend's clock, the one that
	// stamped the rotation); it may be exchanged again.
	RefreshInGrace
	// RefreshRotated: the token was rotated longer ago; presenting it is
	// reuse.
	RefreshRotated
	// RefreshRevoked: the token was revoked; it is never honoured again.
	RefreshRevoked
	// RefreshInactive: the token was deactivated without a rotation.
	RefreshInactive
)

// Honoured reports whether a token in this state may be exchanged.
func (s RefreshState) Honoured() bool { return s == RefreshActive || s == RefreshInGrace }

// Transactor starts, commits and rolls back transactions (see Store).
type Transactor interface {
	BeginTx(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// InTx runs fn with a ctx that carries a transaction of s, and commits it;
// when fn fails, it rolls back and returns fn's error.
func InTx(ctx context.Context, s Transactor, fn func(ctx context.Context) error) error {
	ctx, err := s.BeginTx(ctx)
	if err != nil {
		return err
	}
	defer s.Rollback(ctx) // after a commit, a no-op
	if err := fn(ctx); err != nil {
		return err
	}
	return s.Commit(ctx)
}

// Store is the durable store: the one contract both backends fulfil and
// storagetest.Run pins.
type Store interface {
	Ping(ctx context.Context) error

	// BeginTx starts a transaction and returns a ctx that carries it: every
	// method called with that ctx runs inside it (in a savepoint when ctx
	// carries one already). A backend without transactions (memory)
	// returns ctx as is and relies on each method being atomic. Only the
	// protocol layer's adapter uses them, for the engine that asks for
	// transactions; everything else relies on each method's own atomicity.
	BeginTx(ctx context.Context) (context.Context, error)
	// Commit commits the transaction ctx carries.
	Commit(ctx context.Context) error
	// Rollback rolls back the transaction ctx carries; one that already
	// ended is not an error.
	Rollback(ctx context.Context) error

	CreateClient(ctx context.Context, c Client) error
	GetClient(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	UpdateClient(ctx context.Context, c Client) error
	DeleteClient(ctx context.Context, id string) error // also its consents and refresh tokens

	// CreateInitialAccessToken stores t, atomically with fx.
	CreateInitialAccessToken(ctx context.Context, t InitialAccessToken, fx Effects) error
	ListInitialAccessTokens(ctx context.Context) ([]InitialAccessToken, error) // oldest first
	DeleteInitialAccessToken(ctx context.Context, id string, fx Effects) error
	// UseInitialAccessToken counts one use of the token with this hash and
	// returns it; ErrNotFound when there is none, or it expired or was used
	// up. The check and the count are one step: of two racing uses of a
	// token with one use left, exactly one succeeds.
	UseInitialAccessToken(ctx context.Context, hash []byte) (InitialAccessToken, error)

	// CreateResource stores r atomically with fx. ErrAlreadyExists when
	// its ID is taken or another resource owns one of its scopes.
	CreateResource(ctx context.Context, r Resource, fx Effects) error
	GetResource(ctx context.Context, id string) (Resource, error)
	ListResources(ctx context.Context) ([]Resource, error) // oldest first
	// UpdateResource replaces every field of the resource but its creation
	// time, atomically with fx; ErrNotFound, or ErrAlreadyExists on a
	// scope another resource owns.
	UpdateResource(ctx context.Context, r Resource, fx Effects) error
	DeleteResource(ctx context.Context, id string, fx Effects) error

	CreateUser(ctx context.Context, u User, fx Effects) (User, error) // assigns ID, timestamps; ErrAlreadyExists on email
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByEmail(ctx context.Context, email string) (User, error)
	ListUsers(ctx context.Context) ([]User, error)
	// UpdateUser loads the user, applies mutate and saves it, atomically
	// with fx. mutate's error aborts the update and is returned as is.
	UpdateUser(ctx context.Context, id string, fx Effects, mutate func(*User) error) (User, error)

	// DeleteUser deletes the user and what is theirs alone (backup codes,
	// passkeys, consents, refresh tokens), atomically with fx; the audit
	// log keeps its events. ErrNotFound when there is no such user.
	DeleteUser(ctx context.Context, id string, fx Effects) error

	// ReplaceBackupCodes replaces every backup code of the user with hashes.
	ReplaceBackupCodes(ctx context.Context, userID string, hashes [][]byte, fx Effects) error
	// UseBackupCode marks the unused code with this hash used; ErrNotFound
	// when there is none. Of two racing uses exactly one succeeds.
	UseBackupCode(ctx context.Context, userID string, hash []byte) error
	CountBackupCodes(ctx context.Context, userID string) (unused int, err error)
	// SetTOTP turns the user's second factor on or off in one transaction
	// with fx: it stores the sealed secret (nil turns TOTP off) and replaces
	// every backup code with backupHashes (there must be none when turning
	// it off). Setting a secret while one is set is ErrAlreadyExists, so of
	// two racing enrollments one wins; ErrNotFound when the user does not
	// exist. On any error nothing is changed.
	SetTOTP(ctx context.Context, userID string, secret []byte, backupHashes [][]byte, fx Effects) (User, error)

	// ResetFactors turns off every second factor of the user in one
	// transaction with fx: the TOTP secret, the backup codes and the
	// passkeys. ErrNotFound when the user does not exist.
	ResetFactors(ctx context.Context, userID string, fx Effects) (User, error)

	// CreatePasskey stores p atomically with fx. ErrAlreadyExists when its
	// credential ID is taken (by anyone), ErrNotFound when the user does
	// not exist.
	CreatePasskey(ctx context.Context, p Passkey, fx Effects) error
	// GetPasskey returns the passkey with this credential ID.
	GetPasskey(ctx context.Context, id []byte) (Passkey, error)
	ListPasskeys(ctx context.Context, userID string) ([]Passkey, error) // oldest first
	// RenamePasskey renames the user's passkey, atomically with fx;
	// ErrNotFound when the user has no passkey with this ID.
	RenamePasskey(ctx context.Context, userID string, id []byte, name string, fx Effects) error
	// DeletePasskey deletes the user's passkey, atomically with fx;
	// ErrNotFound when the user has no passkey with this ID.
	DeletePasskey(ctx context.Context, userID string, id []byte, fx Effects) error
	// UsePasskey records a successful assertion with the passkey: when,
	// its backup state, and the signature counter, which never goes back
	// (the higher of the stored and the new one is kept, so two racing
	// assertions cannot lower it). ErrNotFound when it is gone.
	UsePasskey(ctx context.Context, id []byte, use PasskeyUse) error

	GetConsent(ctx context.Context, userID, clientID string) (Consent, error)
	SaveConsent(ctx context.Context, c Consent) error // upsert: the scopes replace the stored ones
	ListConsents(ctx context.Context, userID string) ([]Consent, error)
	// DeleteConsent deletes the consent and revokes the user's refresh
	// tokens for that client; it returns the revoked families.
	DeleteConsent(ctx context.Context, userID, clientID string) (requestIDs []string, err error)

	// CreateRefreshToken stores a new active token (State is ignored).
	// ErrNotFound when its client does not exist, ErrAlreadyExists when
	// the signature does.
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// GetRefreshToken returns the token, active or not, with its State:
	// in grace when it was rotated, not revoked, less than grace ago.
	// Inside a transaction the token stays locked until it ends, so that
	// two rotations racing in transactions take turns.
	GetRefreshToken(ctx context.Context, signature string, grace time.Duration) (RefreshToken, error)
	// RotateRefreshToken deactivates an active token and stamps when. A
	// token in grace is left as it is (no error); any other is
	// ErrInactive. The check and the change are one step: of two racing
	// rotations of an active token exactly one succeeds.
	RotateRefreshToken(ctx context.Context, signature string, grace time.Duration) error
	// DeactivateRefreshToken deactivates the token without a rotation;
	// it is kept, so that a later use is still recognised.
	DeactivateRefreshToken(ctx context.Context, signature string) error
	// RevokeRefreshFamily revokes every refresh token of the family,
	// atomically with fx. An unknown or already revoked family is not an
	// error and writes no effects: of two racing revocations of one family
	// (two presentations of a stolen token) one records the event and
	// sends the alert.
	RevokeRefreshFamily(ctx context.Context, requestID string, fx Effects) error
	// RevokeUserRefreshTokens revokes every refresh token of the user,
	// atomically with fx, and returns the revoked families.
	RevokeUserRefreshTokens(ctx context.Context, userID string, fx Effects) (requestIDs []string, err error)
	// DeleteExpiredRefreshTokens removes tokens that expired before.
	DeleteExpiredRefreshTokens(ctx context.Context, before time.Time) (int, error)

	CreateSigningKey(ctx context.Context, k SigningKey) error
	// CreateSigningKeyUnlessNewer inserts k unless a key created after since
	// exists; several replicas rotating at once create one key.
	CreateSigningKeyUnlessNewer(ctx context.Context, k SigningKey, since time.Time) (created bool, err error)
	ListSigningKeys(ctx context.Context) ([]SigningKey, error) // newest first
	DeleteSigningKey(ctx context.Context, id string) error

	AppendAudit(ctx context.Context, e AuditEvent) error
	ListAudit(ctx context.Context, userID string, limit int) ([]AuditEvent, error) // newest first; userID "" means all
	// QueryAudit returns the events q selects, newest first.
	QueryAudit(ctx context.Context, q AuditQuery) ([]AuditEvent, error)

	// EnqueueMail enqueues mail on its own, for requests that change nothing else.
	EnqueueMail(ctx context.Context, m MailJob) error

	Close()
}
