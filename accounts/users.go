package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/storage"
)

// Bootstrap creates the admin email with password pw when no user has that
// email, with password_must_change set so the first sign-in replaces it.
// Several replicas may start together: the loser of the race sees
// storage.ErrAlreadyExists and reports created=false. A bootstrap password
// the Checker refuses (too short, breached) is an error that says why.
func (s *Service) Bootstrap(ctx context.Context, email, pw string) (created bool, err error) {
	email = NormalizeEmail(email)
	if !newEmail(email) {
		return false, fmt.Errorf("admin bootstrap: %q is not an email address", email)
	}
	if _, err := s.c.Store.GetUserByEmail(ctx, email); err == nil {
		return false, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return false, fmt.Errorf("admin bootstrap: look up %s: %w", email, err)
	}
	if err := s.c.Checker.Check(ctx, pw); err != nil {
		return false, fmt.Errorf("admin bootstrap: the admin password is refused: %w", err)
	}
	phc, err := s.c.Hasher.Hash(ctx, pw)
	if err != nil {
		return false, fmt.Errorf("admin bootstrap: hash password: %w", err)
	}
	u := storage.User{
		Email: email, Name: "Administrator", Role: storage.RoleAdmin, PasswordHash: phc,
		PasswordMustChange: true, EmailVerified: true,
	}
	fx := storage.Effects{Audit: []storage.AuditEvent{{At: time.Now().UTC(), Kind: "admin_bootstrapped", Detail: map[string]string{"email": email}}}}
	if _, err := s.c.Store.CreateUser(ctx, u, fx); errors.Is(err, storage.ErrAlreadyExists) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("admin bootstrap: create %s: %w", email, err)
	}
	return true, nil
}

// NewUser is an account an operator creates: its address counts as
// verified, since whoever creates it knows it.
type NewUser struct {
	Email      string
	Name       string
	Role       string // storage.RoleUser or storage.RoleAdmin
	Password   string
	MustChange bool // a new password at the first sign-in
}

// Create creates n on behalf of a (the CLI, the admin API), by the rules
// registration applies to the address and the password. It returns a
// *ValidationError for refused input and ErrAlreadyExists for a taken
// address.
func (s *Service) Create(ctx context.Context, a Actor, n NewUser) (storage.User, error) {
	email, ok := AccountEmail(n.Email)
	if !ok {
		return storage.User{}, &ValidationError{Field: FieldEmail, Message: EmailMessage, ID: EmailMessageID}
	}
	if !ValidRole(n.Role) {
		return storage.User{}, &ValidationError{Field: FieldRole, Message: "Choose the role user or admin.", ID: "form.role_invalid"}
	}
	if err := s.checkNew(ctx, FieldPassword, n.Password); err != nil {
		return storage.User{}, err
	}
	phc, err := s.c.Hasher.Hash(ctx, n.Password)
	if err != nil {
		return storage.User{}, err
	}
	return s.c.Store.CreateUser(ctx, storage.User{
		Email: email, Name: n.Name, Role: n.Role, PasswordHash: phc, PasswordMustChange: n.MustChange, EmailVerified: true,
	}, storage.Effects{Audit: []storage.AuditEvent{a.event("user_created", "", map[string]string{"role": n.Role})}})
}

// Seed creates n with a password latch chose itself (the development
// fixtures): a random password needs no policy or breach check, and the
// account is no event worth an audit record.
func (s *Service) Seed(ctx context.Context, n NewUser) (storage.User, error) {
	email, ok := AccountEmail(n.Email)
	if !ok || !ValidRole(n.Role) {
		return storage.User{}, fmt.Errorf("accounts: seed %q: not an account address or role", n.Email)
	}
	phc, err := s.c.Hasher.Hash(ctx, n.Password)
	if err != nil {
		return storage.User{}, err
	}
	return s.c.Store.CreateUser(ctx, storage.User{
		Email: email, Name: n.Name, Role: n.Role, PasswordHash: phc, PasswordMustChange: n.MustChange, EmailVerified: true,
	}, storage.Effects{})
}

// checkNew runs the Checker over a new password: a refusal is a
// *ValidationError about field, any other failure an error.
func (s *Service) checkNew(ctx context.Context, field, pw string) error {
	if err := s.c.Checker.Check(ctx, pw); err != nil {
		var perr *password.Error
		if errors.As(err, &perr) {
			return &ValidationError{Field: field, Message: perr.Message, ID: perr.ID, Args: perr.Args}
		}
		return err
	}
	return nil
}

// SetRole gives user id the role.
func (s *Service) SetRole(ctx context.Context, a Actor, id, role string) (storage.User, error) {
	if !ValidRole(role) {
		return storage.User{}, &ValidationError{Field: FieldRole, Message: "Choose the role user or admin.", ID: "form.role_invalid"}
	}
	fx := storage.Effects{Audit: []storage.AuditEvent{a.event("role_changed", id, map[string]string{"role": role})}}
	return s.c.Store.UpdateUser(ctx, id, fx, func(u *storage.User) error {
		u.Role = role
		return nil
	})
}

// maxNameLength bounds a user's display name.
const maxNameLength = 200

// SetName changes user id's display name.
func (s *Service) SetName(ctx context.Context, a Actor, id, name string) (storage.User, error) {
	name = strings.TrimSpace(name)
	if len(name) > maxNameLength || strings.ContainsFunc(name, unicode.IsControl) {
		return storage.User{}, &ValidationError{Field: FieldName, Message: "Use at most 200 characters, without control characters.", ID: "form.name_invalid"}
	}
	fx := storage.Effects{Audit: []storage.AuditEvent{a.event("name_changed", id, nil)}}
	return s.c.Store.UpdateUser(ctx, id, fx, func(u *storage.User) error {
		u.Name = name
		return nil
	})
}

// RequirePasswordChange makes user id choose a new password at the next
// sign-in.
func (s *Service) RequirePasswordChange(ctx context.Context, a Actor, id string) (storage.User, error) {
	fx := storage.Effects{Audit: []storage.AuditEvent{a.event("password_change_required", id, nil)}}
	return s.c.Store.UpdateUser(ctx, id, fx, func(u *storage.User) error {
		u.PasswordMustChange = true
		return nil
	})
}

// SetDisabled disables or enables user id. Disabling also ends everything
// the user holds: a failure to do so is reported after the user was
// disabled, which stands.
func (s *Service) SetDisabled(ctx context.Context, a Actor, id string, disabled bool) (storage.User, error) {
	kind := "user_enabled"
	if disabled {
		kind = "user_disabled"
	}
	u, err := s.c.Store.UpdateUser(ctx, id, storage.Effects{Audit: []storage.AuditEvent{a.event(kind, id, nil)}}, func(u *storage.User) error {
		u.Disabled = disabled
		return nil
	})
	if err != nil || !disabled {
		return u, err
	}
	if err := s.c.Revoker.RevokeUser(ctx, id); err != nil {
		return u, fmt.Errorf("user disabled, but revoking their tokens failed: %w", err)
	}
	return u, nil
}

// ResetMFA turns off every second factor of the user: the TOTP secret,
// the backup codes and the passkeys go together, with the audit event, so
// a failure leaves them as they were.
func (s *Service) ResetMFA(ctx context.Context, a Actor, id string) (storage.User, error) {
	return s.c.Store.ResetFactors(ctx, id, storage.Effects{Audit: []storage.AuditEvent{a.event("mfa_reset", id, nil)}})
}

// RevokeUser ends every session and token of user id, recorded in the
// audit log in the same write as the refresh tokens' revocation.
func (s *Service) RevokeUser(ctx context.Context, a Actor, id string) error {
	return s.c.Revoker.RevokeUserWith(ctx, id, storage.Effects{Audit: []storage.AuditEvent{a.event("user_revoked", id, nil)}})
}

// RevokeClientGrant ends the user's grant to the client (consent and
// tokens) and records it. A grant already gone is no error.
func (s *Service) RevokeClientGrant(ctx context.Context, a Actor, userID, clientID string) error {
	if err := s.c.Revoker.RevokeClientGrant(ctx, userID, clientID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	e := a.event("consent_revoked", userID, nil)
	e.ClientID = clientID
	s.audit(ctx, e)
	return nil
}
