package login

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/storage"
)

// BootstrapStore is the part of storage.Store that Bootstrap uses.
type BootstrapStore interface {
	GetUserByEmail(ctx context.Context, email string) (storage.User, error)
	CreateUser(ctx context.Context, u storage.User, fx storage.Effects) (storage.User, error)
}

// Bootstrap creates the admin email with password pw when no user has that
// email, with password_must_change set so the first sign-in replaces it.
// Several replicas may start together: the loser of the race sees
// storage.ErrAlreadyExists and reports created=false. A bootstrap password
// the Checker refuses (too short, breached) is an error that says why.
func Bootstrap(ctx context.Context, store BootstrapStore, hasher *password.Hasher, checker password.Checker, email, pw string) (created bool, err error) {
	email = normalizeEmail(email)
	if !newEmail(email) {
		return false, fmt.Errorf("admin bootstrap: %q is not an email address", email)
	}
	if _, err := store.GetUserByEmail(ctx, email); err == nil {
		return false, nil
	} else if !errors.Is(err, storage.ErrNotFound) {
		return false, fmt.Errorf("admin bootstrap: look up %s: %w", email, err)
	}
	if err := checker.Check(ctx, pw); err != nil {
		return false, fmt.Errorf("admin bootstrap: the admin password is refused: %w", err)
	}
	phc, err := hasher.Hash(ctx, pw)
	if err != nil {
		return false, fmt.Errorf("admin bootstrap: hash password: %w", err)
	}
	u := storage.User{
		Email: email, Name: "Administrator", Role: storage.RoleAdmin, PasswordHash: phc,
		PasswordMustChange: true, EmailVerified: true,
	}
	fx := storage.Effects{Audit: []storage.AuditEvent{{At: time.Now().UTC(), Kind: "admin_bootstrapped", Detail: map[string]string{"email": email}}}}
	if _, err := store.CreateUser(ctx, u, fx); errors.Is(err, storage.ErrAlreadyExists) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("admin bootstrap: create %s: %w", email, err)
	}
	return true, nil
}
