package accounts

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/latch-idp/latch/storage"
)

// What users change of their own account on the account page: the address
// (confirmed from the new mailbox) and the account itself (deleted). Both
// need the current password first, under the attempt limit.

// emailChangeTTL is how long the confirmation link of a new address works.
const emailChangeTTL = 24 * time.Hour

// purposeEmailChange separates address-change tokens from the other links.
const purposeEmailChange = "latch change-email v1"

// ErrLastAdmin refuses to delete the only active administrator: nobody
// could manage latch afterwards.
var ErrLastAdmin = errors.New("accounts: the only administrator cannot delete the account")

// EmailChange asks to move User's account to the address New, proved by
// the Current password (checked under Attempts, per user).
type EmailChange struct {
	User     storage.User
	Current  string
	New      string
	Attempts *Attempts
}

func (s *Service) checkCurrent(ctx context.Context, attempts *Attempts, u storage.User, pw string) error {
	return attempts.Check(ctx, Keys{Account: "account-password:" + u.ID}, func(ctx context.Context) (bool, error) {
		ok, _, err := s.c.Hasher.Verify(ctx, u.PasswordHash, pw)
		return ok, err
	})
}

// RequestEmailChange checks c and mails a confirmation link to the new
// address; nothing changes until it is followed. A *ValidationError about
// FieldEmail for an unusable address; ErrWrong or a *LockedError for the
// password. An address taken by another account gets the same answer and
// the same mail (whose link then says it is taken), so the form does not
// tell who has an account.
func (s *Service) RequestEmailChange(ctx context.Context, a Actor, c EmailChange) error {
	if err := s.needBox(); err != nil {
		return err
	}
	if s.c.EmailChangeURL == "" {
		return errors.New("accounts: no page takes email change links")
	}
	to := NormalizeEmail(c.New)
	if !newEmail(to) {
		return &ValidationError{Field: FieldEmail, Message: EmailMessage, ID: EmailMessageID}
	}
	if strings.EqualFold(to, c.User.Email) {
		return &ValidationError{Field: FieldEmail, Message: "That is your address already.", ID: "form.email_same"}
	}
	if err := s.checkCurrent(ctx, c.Attempts, c.User, c.Current); err != nil {
		return err
	}
	token := SignLink(s.c.Box, purposeEmailChange, c.User.ID+"\n"+to, time.Now().Add(emailChangeTTL), c.User.Email)
	if err := s.c.Store.EnqueueMail(ctx, storage.MailJob{To: to, Template: "email_change", Locale: a.locale(c.User), Data: map[string]string{
		"link": s.c.EmailChangeURL + "?token=" + url.QueryEscape(token), "expires": emailChangeTTL.String(),
	}}); err != nil {
		return err
	}
	s.audit(ctx, a.event("email_change_requested", c.User.ID, nil))
	return nil
}

// EmailChangeOf returns the user and the new address of a change link,
// while it is valid: unexpired, and the account still has the address it
// was made from (so a link is used once).
func (s *Service) EmailChangeOf(ctx context.Context, token string) (storage.User, string, bool) {
	if s.c.Box == nil {
		return storage.User{}, "", false
	}
	subject, exp, mac, ok := ParseLink(token, time.Now())
	if !ok {
		return storage.User{}, "", false
	}
	id, to, ok := strings.Cut(subject, "\n")
	if !ok {
		return storage.User{}, "", false
	}
	u, err := s.c.Store.GetUser(ctx, id)
	if err != nil || u.Disabled || !CheckLink(s.c.Box, purposeEmailChange, subject, exp, u.Email, mac) {
		return storage.User{}, "", false
	}
	return u, to, true
}

// ErrEmailTaken is returned when the new address belongs to another
// account by the time the change is confirmed.
var ErrEmailTaken = errors.New("accounts: the address is taken")

// ConfirmEmailChange moves the account of a change link to its new
// address, now confirmed, and tells the old address. ErrStale when the
// link is not (or no longer) valid; ErrEmailTaken.
func (s *Service) ConfirmEmailChange(ctx context.Context, a Actor, token string) (storage.User, error) {
	u, to, ok := s.EmailChangeOf(ctx, token)
	if !ok {
		return storage.User{}, ErrStale
	}
	old := u.Email
	fx := storage.Effects{
		Audit: []storage.AuditEvent{a.event("email_changed", u.ID, nil)},
		Mail: []storage.MailJob{{To: old, Template: "email_changed", Locale: a.locale(u), Data: map[string]string{
			"at": time.Now().UTC().Format(time.RFC3339), "ip": a.IP, "email": to,
		}}},
	}
	u, err := s.c.Store.UpdateUser(ctx, u.ID, fx, func(cur *storage.User) error {
		if cur.Email != old || cur.Disabled {
			return ErrStale
		}
		cur.Email, cur.EmailVerified = to, true
		return nil
	})
	if errors.Is(err, storage.ErrAlreadyExists) {
		return storage.User{}, ErrEmailTaken
	}
	return u, err
}

// DeleteAccount deletes u's own account after checking the current
// password pw under attempts: every session and token ends, then the
// account and what is only theirs (the audit log keeps its events), and
// the address is told. ErrLastAdmin for the only active administrator.
func (s *Service) DeleteAccount(ctx context.Context, a Actor, u storage.User, pw string, attempts *Attempts) error {
	if err := s.checkCurrent(ctx, attempts, u, pw); err != nil {
		return err
	}
	if u.Role == storage.RoleAdmin {
		users, err := s.c.Store.ListUsers(ctx)
		if err != nil {
			return err
		}
		others := 0
		for _, o := range users {
			if o.ID != u.ID && o.Role == storage.RoleAdmin && !o.Disabled {
				others++
			}
		}
		if others == 0 {
			return ErrLastAdmin
		}
	}
	if s.c.Revoker == nil {
		return errors.New("accounts: missing Revoker")
	}
	if err := s.c.Revoker.RevokeUser(ctx, u.ID); err != nil {
		return err
	}
	fx := storage.Effects{
		Audit: []storage.AuditEvent{a.event("account_deleted", u.ID, nil)},
		Mail:  []storage.MailJob{a.notice(u, "account_deleted")},
	}
	return s.c.Store.DeleteUser(ctx, u.ID, fx)
}
