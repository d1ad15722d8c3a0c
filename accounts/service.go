package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
)

// Store is the part of storage.Store the service uses.
type Store interface {
	GetUser(ctx context.Context, id string) (storage.User, error)
	GetUserByEmail(ctx context.Context, email string) (storage.User, error)
	CreateUser(ctx context.Context, u storage.User, fx storage.Effects) (storage.User, error)
	UpdateUser(ctx context.Context, id string, fx storage.Effects, mutate func(*storage.User) error) (storage.User, error)
	DeleteUser(ctx context.Context, id string, fx storage.Effects) error
	ListUsers(ctx context.Context) ([]storage.User, error)
	SetTOTP(ctx context.Context, userID string, secret []byte, backupHashes [][]byte, fx storage.Effects) (storage.User, error)
	ReplaceBackupCodes(ctx context.Context, userID string, hashes [][]byte, fx storage.Effects) error
	ResetFactors(ctx context.Context, userID string, fx storage.Effects) (storage.User, error)
	CreatePasskey(ctx context.Context, p storage.Passkey, fx storage.Effects) error
	ListPasskeys(ctx context.Context, userID string) ([]storage.Passkey, error)
	RenamePasskey(ctx context.Context, userID string, id []byte, name string, fx storage.Effects) error
	DeletePasskey(ctx context.Context, userID string, id []byte, fx storage.Effects) error
	AppendAudit(ctx context.Context, e storage.AuditEvent) error
	EnqueueMail(ctx context.Context, m storage.MailJob) error
}

// Hasher hashes and verifies passwords (password.Hasher). Both may return
// password.ErrBusy when no hashing slot is free.
type Hasher interface {
	Hash(ctx context.Context, pw string) (string, error)
	// Verify checks pw against phc; an empty phc costs the same time and
	// fails. rehash says the hash is weaker than the current parameters.
	Verify(ctx context.Context, phc, pw string) (ok, rehash bool, err error)
}

// Checker decides whether a new password is acceptable (password.Checker):
// nil, or a *password.Error with a readable message.
type Checker interface {
	Check(ctx context.Context, pw string) error
}

// Revoker ends what a user holds (Revocation).
type Revoker interface {
	RevokeUser(ctx context.Context, userID string) error
	// RevokeUserWith is RevokeUser with fx written in the same write as
	// the refresh tokens' revocation.
	RevokeUserWith(ctx context.Context, userID string, fx storage.Effects) error
	RevokeClientGrant(ctx context.Context, userID, clientID string) error
}

// Config holds a Service's dependencies. Only Store is required: a caller
// that applies a few rules (the CLI changing a role) may leave out what
// they never use, and a rule that needs a part left out fails with an
// error that names it.
type Config struct {
	Store   Store
	Hasher  Hasher
	Checker Checker
	Revoker Revoker
	// Box signs the links mailed for a reset and a verification; with
	// VerifyURL and ResetURL (the pages that take them) it may be left out
	// where no link is sent (the CLI).
	Box       *secret.Box
	VerifyURL string
	ResetURL  string
	// EmailChangeURL is the page that takes the links confirming a new
	// address (the account page's); empty: addresses cannot be changed.
	EmailChangeURL string
	Log            *slog.Logger
}

// Service applies the account rules.
type Service struct {
	c     Config
	later *later
}

// New returns the service over c.
func New(c Config) (*Service, error) {
	if c.Store == nil {
		return nil, errors.New("accounts: missing Store")
	}
	if c.Hasher == nil {
		c.Hasher = missing("Hasher")
	}
	if c.Checker == nil {
		c.Checker = missing("Checker")
	}
	if c.Revoker == nil {
		c.Revoker = missing("Revoker")
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return &Service{c: c, later: newLater()}, nil
}

// Actor is who makes a change, for the audit log and notice mails: the
// address and browser of a request, and By when someone acts on another's
// account ("cli", an administrator's ID).
type Actor struct {
	IP, UserAgent string
	By            string
	// Lang is the language code of the request that acts ("de"), for the
	// emails it causes; empty (the CLI, the admin API): the user's own.
	Lang string
}

// locale is the language of an email to u that a causes: the request's,
// or else u's own.
func (a Actor) locale(u storage.User) string {
	if a.Lang != "" {
		return a.Lang
	}
	return u.Locale
}

// event is an audit event of kind about userID, made by a. detail is
// copied; By adds a "by" entry.
func (a Actor) event(kind, userID string, detail map[string]string) storage.AuditEvent {
	e := storage.AuditEvent{At: time.Now().UTC(), Kind: kind, UserID: userID, IP: a.IP, UserAgent: a.UserAgent}
	if a.By != "" {
		detail = maps.Clone(detail)
		if detail == nil {
			detail = map[string]string{}
		}
		detail["by"] = a.By
	}
	e.Detail = detail
	return e
}

// notice is a security notice mail to u with the time and the address it
// came from.
func (a Actor) notice(u storage.User, template string) storage.MailJob {
	return storage.MailJob{To: u.Email, Template: template, Locale: a.locale(u), Data: map[string]string{
		"at": time.Now().UTC().Format(time.RFC3339), "ip": a.IP,
	}}
}

// audit appends e, logging rather than failing: where it is used the event
// records something already done (a mail queued, a grant ended).
func (s *Service) audit(ctx context.Context, e storage.AuditEvent) {
	if err := s.c.Store.AppendAudit(ctx, e); err != nil {
		s.c.Log.ErrorContext(ctx, "accounts: append audit event", "kind", e.Kind, "err", err)
	}
}

// needBox refuses a link without the key to sign it.
func (s *Service) needBox() error {
	if s.c.Box == nil {
		return fmt.Errorf("accounts: built without a secret (Box) to sign links and hash backup codes with")
	}
	return nil
}

// missing stands in for a part a Service was built without.
type missing string

func (m missing) err() error { return fmt.Errorf("accounts: built without a %s", string(m)) }

func (m missing) Hash(context.Context, string) (string, error) { return "", m.err() }
func (m missing) Verify(context.Context, string, string) (bool, bool, error) {
	return false, false, m.err()
}
func (m missing) Check(context.Context, string) error      { return m.err() }
func (m missing) RevokeUser(context.Context, string) error { return m.err() }
func (m missing) RevokeUserWith(context.Context, string, storage.Effects) error {
	return m.err()
}
func (m missing) RevokeClientGrant(context.Context, string, string) error { return m.err() }
