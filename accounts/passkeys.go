package accounts

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/latch-idp/latch/storage"
)

// Passkeys. Proving the passkey (the WebAuthn ceremony) is package
// passkey's step, and recent re-authentication the page's; these rules
// change what a user has, each in one write with its audit event and
// notice mail.

// MaxPasskeys bounds how many passkeys one account may have.
const MaxPasskeys = 20

// MaxPasskeyName bounds a passkey's name, in characters.
const MaxPasskeyName = 64

var (
	// ErrTooManyPasskeys is returned when an account has MaxPasskeys.
	ErrTooManyPasskeys = errors.New("accounts: too many passkeys")
	// ErrPasskeyName is returned for a name that is too long or has
	// control characters.
	ErrPasskeyName = errors.New("accounts: passkey names are 1 to 64 printable characters")
)

// PasskeyName cleans a passkey's name as typed: spaces trimmed and runs of
// white space made one; def when it is empty.
func PasskeyName(typed, def string) (string, error) {
	name := strings.Join(strings.Fields(typed), " ")
	if name == "" {
		name = def
	}
	if utf8.RuneCountInString(name) > MaxPasskeyName || !utf8.ValidString(name) || strings.IndexFunc(name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return "", ErrPasskeyName
	}
	return name, nil
}

func (a Actor) passkeyNotice(u storage.User, template, name string) storage.MailJob {
	m := a.notice(u, template)
	m.Data["name"] = name
	return m
}

// AddPasskey stores p, a passkey whose registration the caller verified,
// for u: ErrTooManyPasskeys when u has MaxPasskeys already.
func (s *Service) AddPasskey(ctx context.Context, a Actor, u storage.User, p storage.Passkey) error {
	ps := s.c.Store
	have, err := ps.ListPasskeys(ctx, u.ID)
	if err != nil {
		return err
	}
	if len(have) >= MaxPasskeys {
		return ErrTooManyPasskeys
	}
	p.UserID = u.ID
	fx := storage.Effects{
		Audit: []storage.AuditEvent{a.event("passkey_added", u.ID, map[string]string{"name": p.Name})},
		Mail:  []storage.MailJob{a.passkeyNotice(u, "passkey_added", p.Name)},
	}
	return ps.CreatePasskey(ctx, p, fx)
}

// RecentPasskeys are those of ps added within FactorRecoveryWindow before
// now, which a password reset offers to remove (see RecentTOTP).
func RecentPasskeys(ps []storage.Passkey, now time.Time) []storage.Passkey {
	var out []storage.Passkey
	for _, p := range ps {
		if now.Sub(p.CreatedAt) < FactorRecoveryWindow {
			out = append(out, p)
		}
	}
	return out
}

// RemoveRecentPasskeys removes the passkeys of ids from the user after a
// password reset offered it: only those still there and still recent.
// It returns how many it removed.
func (s *Service) RemoveRecentPasskeys(ctx context.Context, a Actor, userID string, ids [][]byte) (int, error) {
	u, err := s.c.Store.GetUser(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	have, err := s.c.Store.ListPasskeys(ctx, userID)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, p := range RecentPasskeys(have, time.Now()) {
		if !slices.ContainsFunc(ids, func(id []byte) bool { return string(id) == string(p.ID) }) {
			continue
		}
		fx := storage.Effects{
			Audit: []storage.AuditEvent{a.event("passkey_removed", u.ID, map[string]string{"name": p.Name, "via": "password_reset"})},
			Mail:  []storage.MailJob{a.passkeyNotice(u, "passkey_removed", p.Name)},
		}
		if err := s.c.Store.DeletePasskey(ctx, u.ID, p.ID, fx); errors.Is(err, storage.ErrNotFound) {
			continue
		} else if err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

// RenamePasskey renames u's passkey id; ErrNotFound when u has none by
// that ID.
func (s *Service) RenamePasskey(ctx context.Context, a Actor, u storage.User, id []byte, name string) error {
	ps := s.c.Store
	fx := storage.Effects{Audit: []storage.AuditEvent{a.event("passkey_renamed", u.ID, map[string]string{"name": name})}}
	if err := ps.RenamePasskey(ctx, u.ID, id, name, fx); errors.Is(err, storage.ErrNotFound) {
		return ErrNotFound
	} else if err != nil {
		return err
	}
	return nil
}

// RemovePasskey removes u's passkey id, named name on the page it was
// removed from; ErrNotFound when u has none by that ID.
func (s *Service) RemovePasskey(ctx context.Context, a Actor, u storage.User, id []byte) error {
	ps := s.c.Store
	have, err := ps.ListPasskeys(ctx, u.ID)
	if err != nil {
		return err
	}
	name := ""
	for _, p := range have {
		if string(p.ID) == string(id) {
			name = p.Name
		}
	}
	if name == "" {
		return ErrNotFound
	}
	fx := storage.Effects{
		Audit: []storage.AuditEvent{a.event("passkey_removed", u.ID, map[string]string{"name": name})},
		Mail:  []storage.MailJob{a.passkeyNotice(u, "passkey_removed", name)},
	}
	if err := ps.DeletePasskey(ctx, u.ID, id, fx); errors.Is(err, storage.ErrNotFound) {
		return ErrNotFound
	} else if err != nil {
		return err
	}
	return nil
}
