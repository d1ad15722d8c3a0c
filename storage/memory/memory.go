package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/latch-idp/latch/storage"
)

var _ storage.Store = (*Store)(nil)

// Options tune a Store.
type Options struct {
	// Mail is called with each enqueued mail once the change that enqueued
	// it is applied (the dev mode's in-process queue). It runs outside the
	// store's lock and may call the store. Nil drops mail.
	Mail func(storage.MailJob)
}

// Store is the in-memory durable store. It is safe for concurrent use.
type Store struct {
	mail func(storage.MailJob)

	mu          sync.Mutex
	clients     map[string]storage.Client
	resources   map[string]storage.Resource
	iats        map[string]storage.InitialAccessToken
	users       map[string]storage.User
	emails      map[string]string // lower-cased email → user ID
	backupCodes map[string][]backupCode
	passkeys    map[string]storage.Passkey // by string(credential ID)
	consents    map[consentKey]storage.Consent
	refresh     map[string]storage.RefreshToken
	keys        map[string]storage.SigningKey
	audit       []storage.AuditEvent
	nextAuditID int64
}

type backupCode struct {
	hash []byte
	used bool
}

type consentKey struct{ userID, clientID string }

// New returns an empty store.
func New(opts Options) *Store {
	return &Store{
		mail:        opts.Mail,
		clients:     map[string]storage.Client{},
		resources:   map[string]storage.Resource{},
		iats:        map[string]storage.InitialAccessToken{},
		users:       map[string]storage.User{},
		emails:      map[string]string{},
		backupCodes: map[string][]backupCode{},
		passkeys:    map[string]storage.Passkey{},
		consents:    map[consentKey]storage.Consent{},
		refresh:     map[string]storage.RefreshToken{},
		keys:        map[string]storage.SigningKey{},
	}
}

// Ping always succeeds.
func (s *Store) Ping(context.Context) error { return nil }

// Close does nothing; the data goes with the process.
func (s *Store) Close() {}

// now matches PostgreSQL's precision, so that both backends return the same
// values.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func errorf(op string, err error) error { return fmt.Errorf("memory: %s: %w", op, err) }

// clone copies a slice, keeping nil as nil.
func clone[T any](s []T) []T {
	if s == nil {
		return nil
	}
	return slices.Clone(s)
}

// strs copies a string list; empty lists come back empty, not nil, as from
// PostgreSQL's NOT NULL text[] columns.
func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return slices.Clone(s)
}

// --- effects ---

// validateEffects rejects what PostgreSQL's constraints reject, before
// anything is changed.
func validateEffects(fx storage.Effects) error {
	for _, e := range fx.Audit {
		if e.Kind == "" {
			return fmt.Errorf("audit event without a kind")
		}
	}
	return nil
}

// applyEffects records fx; the caller holds mu and, once it has released
// it, delivers the returned mail with deliver.
func (s *Store) applyEffects(fx storage.Effects) []storage.MailJob {
	for _, e := range fx.Audit {
		s.appendAudit(e)
	}
	mail := make([]storage.MailJob, len(fx.Mail))
	for i, m := range fx.Mail {
		m.Data = copyMap(m.Data)
		mail[i] = m
	}
	return mail
}

// withUser returns fx with userID on the audit events that name no user:
// the methods about one user record their events as that user's.
func withUser(fx storage.Effects, userID string) storage.Effects {
	audit := make([]storage.AuditEvent, len(fx.Audit))
	for i, e := range fx.Audit {
		if e.UserID == "" {
			e.UserID = userID
		}
		audit[i] = e
	}
	fx.Audit = audit
	return fx
}

func (s *Store) deliver(mail []storage.MailJob) {
	if s.mail == nil {
		return
	}
	for _, m := range mail {
		s.mail(m)
	}
}

func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// EnqueueMail hands m to the Mail hook.
func (s *Store) EnqueueMail(_ context.Context, m storage.MailJob) error {
	s.mu.Lock()
	mail := s.applyEffects(storage.Effects{Mail: []storage.MailJob{m}})
	s.mu.Unlock()
	s.deliver(mail)
	return nil
}

func (s *Store) appendAudit(e storage.AuditEvent) {
	s.nextAuditID++
	e.ID = s.nextAuditID
	if e.At.IsZero() {
		e.At = now()
	}
	e.At = e.At.UTC().Truncate(time.Microsecond)
	e.Detail = copyMap(e.Detail)
	s.audit = append(s.audit, e)
}

// AppendAudit records e; its time defaults to now.
func (s *Store) AppendAudit(_ context.Context, e storage.AuditEvent) error {
	if err := validateEffects(storage.Effects{Audit: []storage.AuditEvent{e}}); err != nil {
		return errorf("append audit", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.appendAudit(e)
	return nil
}

// ListAudit returns the newest events first, of userID or of everyone when
// userID is empty, at most limit of them (all when limit <= 0).
func (s *Store) ListAudit(ctx context.Context, userID string, limit int) ([]storage.AuditEvent, error) {
	return s.QueryAudit(ctx, storage.AuditQuery{UserID: userID, Limit: limit})
}

// QueryAudit returns the events q selects, newest first.
func (s *Store) QueryAudit(_ context.Context, q storage.AuditQuery) ([]storage.AuditEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storage.AuditEvent
	for i := len(s.audit) - 1; i >= 0; i-- {
		e := s.audit[i]
		if (q.Kind != "" && e.Kind != q.Kind) || (q.UserID != "" && e.UserID != q.UserID) ||
			(q.ClientID != "" && e.ClientID != q.ClientID) || (!q.Since.IsZero() && e.At.Before(q.Since)) ||
			(!q.Until.IsZero() && !e.At.Before(q.Until)) || (q.BeforeID > 0 && e.ID >= q.BeforeID) {
			continue
		}
		e.Detail = copyMap(e.Detail)
		out = append(out, e)
		if q.Limit > 0 && len(out) == q.Limit {
			break
		}
	}
	return out, nil
}

// oldestFirst copies the records of m in creation order (ID breaks ties),
// as PostgreSQL's listings return them.
func oldestFirst[T any](m map[string]T, copyOf func(T) T, key func(T) (time.Time, string)) []T {
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, copyOf(v))
	}
	slices.SortFunc(out, func(a, b T) int {
		ta, ia := key(a)
		tb, ib := key(b)
		if c := ta.Compare(tb); c != 0 {
			return c
		}
		return strings.Compare(ia, ib)
	})
	return out
}

// --- clients ---

func validateClient(c storage.Client) error {
	if c.ID == "" {
		return fmt.Errorf("client without an ID")
	}
	hasKeys := (c.JWKS != "") != (c.JWKSURI != "")
	switch c.TokenEndpointAuthMethod {
	case storage.AuthMethodBasic, storage.AuthMethodPost:
		if c.SecretHash == nil {
			return fmt.Errorf("confidential client without a secret")
		}
	case storage.AuthMethodNone, storage.AuthMethodPrivateKeyJWT:
		if c.SecretHash != nil {
			return fmt.Errorf("client with a secret it does not authenticate with")
		}
	default:
		return fmt.Errorf("unknown token_endpoint_auth_method")
	}
	if hasKeys != (c.TokenEndpointAuthMethod == storage.AuthMethodPrivateKeyJWT) {
		return fmt.Errorf("exactly the private_key_jwt clients register keys, from one source")
	}
	switch c.TokenEndpointAuthSigningAlg {
	case "", "RS256", "ES256":
	default:
		return fmt.Errorf("unknown token_endpoint_auth_signing_alg")
	}
	return nil
}

func copyClient(c storage.Client) storage.Client {
	c.SecretHash = clone(c.SecretHash)
	c.RedirectURIs = strs(c.RedirectURIs)
	c.GrantTypes = strs(c.GrantTypes)
	c.ResponseTypes = strs(c.ResponseTypes)
	c.Scopes = strs(c.Scopes)
	c.PostLogoutRedirectURIs = strs(c.PostLogoutRedirectURIs)
	c.RegistrationTokenHash = clone(c.RegistrationTokenHash)
	return c
}

// CreateClient stores c; created and updated times default to now.
func (s *Store) CreateClient(_ context.Context, c storage.Client) error {
	if err := validateClient(c); err != nil {
		return errorf("create client", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c.ID]; ok {
		return errorf("create client", storage.ErrAlreadyExists)
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now()
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC().Truncate(time.Microsecond), c.UpdatedAt.UTC().Truncate(time.Microsecond)
	s.clients[c.ID] = copyClient(c)
	return nil
}

// GetClient returns the client; storage.ErrNotFound when there is none.
func (s *Store) GetClient(_ context.Context, id string) (storage.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return storage.Client{}, errorf("get client", storage.ErrNotFound)
	}
	return copyClient(c), nil
}

// ListClients returns every client, oldest first.
func (s *Store) ListClients(context.Context) ([]storage.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return oldestFirst(s.clients, copyClient, func(c storage.Client) (time.Time, string) { return c.CreatedAt, c.ID }), nil
}

// UpdateClient replaces every field of the client but its creation time.
func (s *Store) UpdateClient(_ context.Context, c storage.Client) error {
	if err := validateClient(c); err != nil {
		return errorf("update client", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.clients[c.ID]
	if !ok {
		return errorf("update client", storage.ErrNotFound)
	}
	c.CreatedAt, c.UpdatedAt = old.CreatedAt, now()
	s.clients[c.ID] = copyClient(c)
	return nil
}

// DeleteClient deletes the client with its consents and refresh tokens.
func (s *Store) DeleteClient(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[id]; !ok {
		return errorf("delete client", storage.ErrNotFound)
	}
	delete(s.clients, id)
	for k := range s.consents {
		if k.clientID == id {
			delete(s.consents, k)
		}
	}
	for sig, t := range s.refresh {
		if t.ClientID == id {
			delete(s.refresh, sig)
		}
	}
	return nil
}

// --- users ---

func validateUser(u storage.User) error {
	if u.Email == "" {
		return fmt.Errorf("user without an email")
	}
	if u.Role != storage.RoleUser && u.Role != storage.RoleAdmin {
		return fmt.Errorf("unknown role")
	}
	return nil
}

func copyUser(u storage.User) storage.User {
	u.TOTPSecret = clone(u.TOTPSecret)
	return u
}

// CreateUser stores u with a new ID and timestamps (role "user" when empty),
// with fx; audit events without a user get the new ID (as in UpdateUser,
// ReplaceBackupCodes and RevokeUserRefreshTokens).
func (s *Store) CreateUser(_ context.Context, u storage.User, fx storage.Effects) (storage.User, error) {
	if u.Role == "" {
		u.Role = storage.RoleUser
	}
	if err := validateUser(u); err != nil {
		return storage.User{}, errorf("create user", err)
	}
	if err := validateEffects(fx); err != nil {
		return storage.User{}, errorf("create user", err)
	}
	u.ID = uuid.NewString()
	u.CreatedAt = now()
	u.UpdatedAt = u.CreatedAt
	u.SettleTOTP(u.CreatedAt)
	u.LastLoginAt = u.LastLoginAt.UTC().Truncate(time.Microsecond)
	u.TOTPEnabledAt = u.TOTPEnabledAt.UTC().Truncate(time.Microsecond)
	s.mu.Lock()
	key := strings.ToLower(u.Email)
	if _, taken := s.emails[key]; taken {
		s.mu.Unlock()
		return storage.User{}, errorf("create user", storage.ErrAlreadyExists)
	}
	s.users[u.ID] = copyUser(u)
	s.emails[key] = u.ID
	mail := s.applyEffects(withUser(fx, u.ID))
	s.mu.Unlock()
	s.deliver(mail)
	return copyUser(u), nil
}

// GetUser returns the user; storage.ErrNotFound when there is none.
func (s *Store) GetUser(_ context.Context, id string) (storage.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return storage.User{}, errorf("get user", storage.ErrNotFound)
	}
	return copyUser(u), nil
}

// GetUserByEmail finds the user by email, ignoring letter case.
func (s *Store) GetUserByEmail(_ context.Context, email string) (storage.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.emails[strings.ToLower(email)]
	if !ok {
		return storage.User{}, errorf("get user by email", storage.ErrNotFound)
	}
	return copyUser(s.users[id]), nil
}

// ListUsers returns every user, oldest first.
func (s *Store) ListUsers(context.Context) ([]storage.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return oldestFirst(s.users, copyUser, func(u storage.User) (time.Time, string) { return u.CreatedAt, u.ID }), nil
}

// UpdateUser applies mutate to a copy of the user and saves it with fx, all
// under the lock. mutate's error aborts the update and is returned as is.
// mutate runs under the store's lock: it must not call the store.
func (s *Store) UpdateUser(_ context.Context, id string, fx storage.Effects, mutate func(*storage.User) error) (storage.User, error) {
	if err := validateEffects(fx); err != nil {
		return storage.User{}, errorf("update user", err)
	}
	s.mu.Lock()
	old, ok := s.users[id]
	if !ok {
		s.mu.Unlock()
		return storage.User{}, errorf("update user", storage.ErrNotFound)
	}
	u := copyUser(old)
	if err := mutate(&u); err != nil {
		s.mu.Unlock()
		return storage.User{}, err
	}
	u.ID, u.CreatedAt, u.UpdatedAt = id, old.CreatedAt, now()
	u.SettleTOTP(u.UpdatedAt)
	u.LastLoginAt = u.LastLoginAt.UTC().Truncate(time.Microsecond)
	u.TOTPEnabledAt = u.TOTPEnabledAt.UTC().Truncate(time.Microsecond)
	if err := validateUser(u); err != nil {
		s.mu.Unlock()
		return storage.User{}, errorf("update user", err)
	}
	oldKey, newKey := strings.ToLower(old.Email), strings.ToLower(u.Email)
	if other, taken := s.emails[newKey]; taken && other != id {
		s.mu.Unlock()
		return storage.User{}, errorf("update user", storage.ErrAlreadyExists)
	}
	delete(s.emails, oldKey)
	s.emails[newKey] = id
	s.users[id] = copyUser(u)
	mail := s.applyEffects(withUser(fx, id))
	s.mu.Unlock()
	s.deliver(mail)
	return u, nil
}

// DeleteUser deletes the user and what is theirs alone, with fx, under the
// lock.
func (s *Store) DeleteUser(_ context.Context, id string, fx storage.Effects) error {
	if err := validateEffects(fx); err != nil {
		return errorf("delete user", err)
	}
	s.mu.Lock()
	u, ok := s.users[id]
	if !ok {
		s.mu.Unlock()
		return errorf("delete user", storage.ErrNotFound)
	}
	delete(s.users, id)
	delete(s.emails, strings.ToLower(u.Email))
	delete(s.backupCodes, id)
	for k, p := range s.passkeys {
		if p.UserID == id {
			delete(s.passkeys, k)
		}
	}
	for k := range s.consents {
		if k.userID == id {
			delete(s.consents, k)
		}
	}
	for sig, t := range s.refresh {
		if t.UserID == id {
			delete(s.refresh, sig)
		}
	}
	mail := s.applyEffects(withUser(fx, id))
	s.mu.Unlock()
	s.deliver(mail)
	return nil
}

// ReplaceBackupCodes replaces every backup code of the user, with fx.
func (s *Store) ReplaceBackupCodes(_ context.Context, userID string, hashes [][]byte, fx storage.Effects) error {
	if err := validateEffects(fx); err != nil {
		return errorf("replace backup codes", err)
	}
	s.mu.Lock()
	if _, ok := s.users[userID]; !ok {
		s.mu.Unlock()
		return errorf("replace backup codes", storage.ErrNotFound)
	}
	codes, err := newBackupCodes(hashes)
	if err != nil {
		s.mu.Unlock()
		return errorf("replace backup codes", err)
	}
	s.backupCodes[userID] = codes
	mail := s.applyEffects(withUser(fx, userID))
	s.mu.Unlock()
	s.deliver(mail)
	return nil
}

// newBackupCodes checks hashes for duplicates, as the primary key of
// PostgreSQL's backup_codes does, and returns them unused.
func newBackupCodes(hashes [][]byte) ([]backupCode, error) {
	codes := make([]backupCode, 0, len(hashes))
	for _, h := range hashes {
		for _, c := range codes {
			if string(c.hash) == string(h) {
				return nil, storage.ErrAlreadyExists
			}
		}
		codes = append(codes, backupCode{hash: clone(h)})
	}
	return codes, nil
}

// SetTOTP stores the sealed secret (nil clears it) and replaces the user's
// backup codes, with fx, all under the lock: nothing changes on error.
func (s *Store) SetTOTP(_ context.Context, userID string, secret []byte, backupHashes [][]byte, fx storage.Effects) (storage.User, error) {
	if len(secret) == 0 && len(backupHashes) > 0 {
		return storage.User{}, errorf("set TOTP", fmt.Errorf("backup codes without a TOTP secret"))
	}
	if err := validateEffects(fx); err != nil {
		return storage.User{}, errorf("set TOTP", err)
	}
	codes, err := newBackupCodes(backupHashes)
	if err != nil {
		return storage.User{}, errorf("set TOTP", err)
	}
	s.mu.Lock()
	u, ok := s.users[userID]
	if !ok {
		s.mu.Unlock()
		return storage.User{}, errorf("set TOTP", storage.ErrNotFound)
	}
	if len(secret) > 0 && u.TOTPEnabled() {
		s.mu.Unlock()
		return storage.User{}, errorf("set TOTP", storage.ErrAlreadyExists)
	}
	u.TOTPSecret, u.TOTPEnabledAt = nil, time.Time{}
	if len(secret) > 0 {
		u.TOTPSecret = clone(secret)
	}
	u.UpdatedAt = now()
	u.SettleTOTP(u.UpdatedAt)
	s.users[userID] = copyUser(u)
	s.backupCodes[userID] = codes
	mail := s.applyEffects(withUser(fx, userID))
	s.mu.Unlock()
	s.deliver(mail)
	return copyUser(u), nil
}

// UseBackupCode marks the unused code with this hash used;
// storage.ErrNotFound when there is none.
func (s *Store) UseBackupCode(_ context.Context, userID string, hash []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	codes := s.backupCodes[userID]
	for i := range codes {
		if !codes[i].used && string(codes[i].hash) == string(hash) {
			codes[i].used = true
			return nil
		}
	}
	return errorf("use backup code", storage.ErrNotFound)
}

// CountBackupCodes counts the user's unused backup codes.
func (s *Store) CountBackupCodes(_ context.Context, userID string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.backupCodes[userID] {
		if !c.used {
			n++
		}
	}
	return n, nil
}

// --- consents ---

func copyConsent(c storage.Consent) storage.Consent {
	c.Scopes = strs(c.Scopes)
	return c
}

// GetConsent returns the user's consent for the client.
func (s *Store) GetConsent(_ context.Context, userID, clientID string) (storage.Consent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.consents[consentKey{userID, clientID}]
	if !ok {
		return storage.Consent{}, errorf("get consent", storage.ErrNotFound)
	}
	return copyConsent(c), nil
}

// SaveConsent stores the consent, replacing the scopes of an earlier one.
// storage.ErrNotFound when the user or the client does not exist.
func (s *Store) SaveConsent(_ context.Context, c storage.Consent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, userOK := s.users[c.UserID]
	_, clientOK := s.clients[c.ClientID]
	if !userOK || !clientOK {
		return errorf("save consent", storage.ErrNotFound)
	}
	k := consentKey{c.UserID, c.ClientID}
	t := now()
	c.CreatedAt, c.UpdatedAt = t, t
	if old, ok := s.consents[k]; ok {
		c.CreatedAt = old.CreatedAt
	}
	s.consents[k] = copyConsent(c)
	return nil
}

// ListConsents returns the user's consents, ordered by client ID.
func (s *Store) ListConsents(_ context.Context, userID string) ([]storage.Consent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storage.Consent
	for k, c := range s.consents {
		if k.userID == userID {
			out = append(out, copyConsent(c))
		}
	}
	slices.SortFunc(out, func(a, b storage.Consent) int { return strings.Compare(a.ClientID, b.ClientID) })
	return out, nil
}

// DeleteConsent deletes the consent and revokes the user's refresh tokens
// for the client, returning the revoked families. storage.ErrNotFound only
// when there was neither a consent nor a token to revoke.
func (s *Store) DeleteConsent(_ context.Context, userID, clientID string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := consentKey{userID, clientID}
	_, had := s.consents[k]
	delete(s.consents, k)
	ids := s.revokeWhere(func(t storage.RefreshToken) bool {
		return userID != "" && t.UserID == userID && t.ClientID == clientID
	})
	if !had && len(ids) == 0 {
		return nil, errorf("delete consent", storage.ErrNotFound)
	}
	return ids, nil
}

// --- signing keys ---

func copyKey(k storage.SigningKey) storage.SigningKey {
	k.PrivateKey, k.PublicKey = clone(k.PrivateKey), clone(k.PublicKey)
	return k
}

func (s *Store) createKey(k storage.SigningKey) error {
	if k.ID == "" || (k.Algorithm != "RS256" && k.Algorithm != "ES256") {
		return fmt.Errorf("invalid signing key")
	}
	if _, ok := s.keys[k.ID]; ok {
		return storage.ErrAlreadyExists
	}
	if k.CreatedAt.IsZero() {
		k.CreatedAt = now()
	}
	if k.ActiveAt.IsZero() {
		k.ActiveAt = k.CreatedAt
	}
	k.CreatedAt, k.ActiveAt = k.CreatedAt.UTC().Truncate(time.Microsecond), k.ActiveAt.UTC().Truncate(time.Microsecond)
	s.keys[k.ID] = copyKey(k)
	return nil
}

// CreateSigningKey stores k; its creation time defaults to now and its
// activation time to its creation time.
func (s *Store) CreateSigningKey(_ context.Context, k storage.SigningKey) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.createKey(k); err != nil {
		return errorf("create signing key", err)
	}
	return nil
}

// CreateSigningKeyUnlessNewer stores k unless a key created after since
// exists.
func (s *Store) CreateSigningKeyUnlessNewer(_ context.Context, k storage.SigningKey, since time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, old := range s.keys {
		if old.CreatedAt.After(since) {
			return false, nil
		}
	}
	if err := s.createKey(k); err != nil {
		return false, errorf("create signing key", err)
	}
	return true, nil
}

// ListSigningKeys returns every key, newest first.
func (s *Store) ListSigningKeys(context.Context) ([]storage.SigningKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]storage.SigningKey, 0, len(s.keys))
	for _, k := range s.keys {
		out = append(out, copyKey(k))
	}
	slices.SortFunc(out, func(a, b storage.SigningKey) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return out, nil
}

// DeleteSigningKey deletes the key; storage.ErrNotFound when there is none.
func (s *Store) DeleteSigningKey(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.keys[id]; !ok {
		return errorf("delete signing key", storage.ErrNotFound)
	}
	delete(s.keys, id)
	return nil
}
