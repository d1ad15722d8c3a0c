package accounts

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web"
)

// verifyTTL is how long an email verification link works.
const verifyTTL = 24 * time.Hour

// purposeVerify separates verification tokens from the other link tokens.
const purposeVerify = "latch verify-email v1"

// verifyBound is the state a verification token covers: the address is
// still unverified. Confirming it makes the token useless.
const verifyBound = "unverified"

// NormalizeName is the form a typed display name is stored in.
func NormalizeName(s string) string {
	return web.Clip(strings.TrimSpace(s), 200)
}

// Registration is someone asking for an account of their own.
type Registration struct {
	Email, Name, Password string
}

// Register checks a registration and then, after the caller has answered
// (Later), creates the unverified account and mails the link that confirms
// its address. Refused input is a *ValidationError per field, all of them
// at once (see Invalid). admit, when set, runs once the input is found
// valid and before anything is written, and its error is returned as it
// is: the page counts the registration against the client's address there.
// A taken address is no error, so that registering does not tell who has an
// account: its owner just gets no mail.
func (s *Service) Register(ctx context.Context, a Actor, r Registration, admit func(context.Context) error) error {
	if err := s.needBox(); err != nil {
		return err
	}
	email := NormalizeEmail(r.Email)
	var invalid []error
	if !newEmail(email) {
		invalid = append(invalid, &ValidationError{Field: FieldEmail, Message: EmailMessage, ID: EmailMessageID})
	}
	if err := s.checkNew(ctx, FieldPassword, r.Password); len(Invalid(err)) > 0 {
		invalid = append(invalid, err)
	} else if err != nil {
		return err
	}
	if len(invalid) > 0 {
		return errors.Join(invalid...)
	}
	if admit != nil {
		if err := admit(ctx); err != nil {
			return err
		}
	}
	// The rest runs after the answer: a taken address fails fast on the
	// unique index, a new one writes the user and a mail, and the answer
	// must not show which happened, by its words or by its time.
	s.Later(ctx, "register", func(ctx context.Context) error {
		phc, err := s.c.Hasher.Hash(ctx, r.Password)
		if err != nil {
			return err
		}
		u := storage.User{Email: email, Name: NormalizeName(r.Name), Role: storage.RoleUser, PasswordHash: phc, Locale: a.Lang}
		fx := storage.Effects{
			Audit: []storage.AuditEvent{a.event("user_registered", "", nil)},
			Mail:  []storage.MailJob{s.verifyMail(email, a.Lang)},
		}
		if _, err := s.c.Store.CreateUser(ctx, u, fx); err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
			return err
		}
		return nil
	})
	return nil
}

// verifyMail is the mail with a link that confirms email, in the
// language locale.
func (s *Service) verifyMail(email, locale string) storage.MailJob {
	link := s.c.VerifyURL + "?token=" + url.QueryEscape(SignLink(s.c.Box, purposeVerify, email, time.Now().Add(verifyTTL), verifyBound))
	return storage.MailJob{To: email, Template: "verify_email", Locale: locale, Data: map[string]string{"link": link}}
}

// ResendVerification mails u, whose address is unverified, a new link.
func (s *Service) ResendVerification(ctx context.Context, a Actor, u storage.User) error {
	if err := s.needBox(); err != nil {
		return err
	}
	if err := s.c.Store.EnqueueMail(ctx, s.verifyMail(u.Email, a.locale(u))); err != nil {
		return err
	}
	s.audit(ctx, a.event("email_verification_resent", u.ID, nil))
	return nil
}

// VerifyUser returns the unverified user a verification token was made for.
func (s *Service) VerifyUser(ctx context.Context, token string) (storage.User, bool) {
	if s.c.Box == nil {
		return storage.User{}, false
	}
	email, exp, mac, ok := ParseLink(token, time.Now())
	if !ok {
		return storage.User{}, false
	}
	u, err := s.c.Store.GetUserByEmail(ctx, email)
	if err != nil || u.EmailVerified {
		return storage.User{}, false
	}
	return u, CheckLink(s.c.Box, purposeVerify, email, exp, verifyBound, mac)
}

// VerifyEmail confirms the address a verification token was made for.
// ErrStale: the link is invalid, expired or used.
func (s *Service) VerifyEmail(ctx context.Context, a Actor, token string) error {
	u, ok := s.VerifyUser(ctx, token)
	if !ok {
		return ErrStale
	}
	_, err := s.c.Store.UpdateUser(ctx, u.ID, storage.Effects{Audit: []storage.AuditEvent{a.event("email_verified", u.ID, nil)}}, func(cur *storage.User) error {
		if cur.EmailVerified || NormalizeEmail(cur.Email) != NormalizeEmail(u.Email) {
			return ErrStale
		}
		cur.EmailVerified = true
		return nil
	})
	return err
}
