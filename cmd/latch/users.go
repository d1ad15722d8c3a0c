package main

import (
	"errors"
	"fmt"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/latch-idp/latch/internal/server"
	"github.com/latch-idp/latch/login"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/provider"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/postgres"
	redisstore "github.com/latch-idp/latch/storage/redis"
)

// userView is how commands print a user: never the password hash or TOTP
// secret.
type userView struct {
	ID                 string     `json:"id"`
	Email              string     `json:"email"`
	Name               string     `json:"name,omitempty"`
	Role               string     `json:"role"`
	EmailVerified      bool       `json:"email_verified"`
	PasswordMustChange bool       `json:"password_must_change"`
	Disabled           bool       `json:"disabled"`
	TOTP               bool       `json:"totp"`
	CreatedAt          time.Time  `json:"created_at"`
	LastLoginAt        *time.Time `json:"last_login_at,omitempty"`
}

func viewUser(u storage.User) userView {
	v := userView{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, EmailVerified: u.EmailVerified,
		PasswordMustChange: u.PasswordMustChange, Disabled: u.Disabled, TOTP: u.TOTPEnabled(), CreatedAt: u.CreatedAt}
	if !u.LastLoginAt.IsZero() {
		t := u.LastLoginAt
		v.LastLoginAt = &t
	}
	return v
}

// findUser accepts a user ID or an email address.
func findUser(e *cliEnv, st *postgres.Store, ref string) (storage.User, error) {
	var u storage.User
	var err error
	if _, perr := uuid.Parse(ref); perr == nil {
		u, err = st.GetUser(e.ctx, ref)
	} else {
		u, err = st.GetUserByEmail(e.ctx, ref)
	}
	if errors.Is(err, storage.ErrNotFound) {
		return u, fmt.Errorf("no user %q", ref)
	}
	return u, err
}

// passwordChecker builds the checks a new password passes, from the same
// LATCH_* settings as the server.
func passwordChecker(e *cliEnv) (*password.Hasher, password.Checker, error) {
	var c server.Config
	fs := newFlagSet("users", e.stderr)
	cf := bindServe(fs, &c)
	if err := cf.resolve(); err != nil {
		return nil, password.Checker{}, err
	}
	hasher := password.NewHasher(password.Params{Memory: uint32(c.Argon2Memory), Iterations: uint32(c.Argon2Iterations), Parallelism: uint8(c.Argon2Parallelism)}, c.HashConcurrency, 10*time.Second)
	pol := password.DefaultPolicy()
	pol.MinLength = c.PasswordMinLength
	return hasher, password.Checker{Policy: pol, Breach: password.NewBreach(password.BreachOptions{
		URL: c.HIBPURL, Enabled: c.HIBP, FailClosed: !c.HIBPFailOpen, Timeout: 2 * time.Second,
		Client: http.DefaultClient, Logger: discardLogger(),
	})}, nil
}

func (e *cliEnv) users(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: latch users create|list|get|set-role|disable|enable|reset-mfa", errUsage)
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("users "+sub, e.stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	var email, pw, role string
	var pwStdin, mustChange bool
	if sub == "create" {
		fs.StringVar(&email, "email", "", "email address (required)")
		fs.StringVar(&pw, "password", "", "password")
		fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of stdin")
		fs.StringVar(&role, "role", storage.RoleUser, "role: user or admin")
		fs.BoolVar(&mustChange, "password-must-change", false, "force a new password at first login")
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	st, err := e.openStore()
	if err != nil {
		return err
	}
	defer st.Close()
	print := func(u storage.User, verb string) error {
		if *asJSON || sub == "get" {
			return e.printJSON(viewUser(u))
		}
		fmt.Fprintf(e.stdout, "%s user %s (%s)\n", verb, u.Email, u.ID)
		return nil
	}
	one := func() (storage.User, error) {
		if len(pos) < 1 {
			return storage.User{}, fmt.Errorf("%w: latch users %s ID-OR-EMAIL", errUsage, sub)
		}
		return findUser(e, st, pos[0])
	}
	switch sub {
	case "create":
		var okEmail bool
		if email, okEmail = login.AccountEmail(email); !okEmail {
			return fmt.Errorf("%w: --email is required and must be an email address like name@example.com (ASCII only)", errUsage)
		}
		if role != storage.RoleUser && role != storage.RoleAdmin {
			return fmt.Errorf("%w: --role must be user or admin", errUsage)
		}
		if pwStdin {
			if pw, err = readLine(e.stdin); err != nil {
				return fmt.Errorf("--password-stdin: %v", err)
			}
		}
		if pw == "" {
			return fmt.Errorf("%w: give --password or --password-stdin", errUsage)
		}
		hasher, checker, err := passwordChecker(e)
		if err != nil {
			return err
		}
		var perr *password.Error
		if err := checker.Check(e.ctx, pw); errors.As(err, &perr) {
			return fmt.Errorf("password refused: %s", perr.Message)
		} else if err != nil {
			return err
		}
		hash, err := hasher.Hash(e.ctx, pw)
		if err != nil {
			return err
		}
		u, err := st.CreateUser(e.ctx, storage.User{Email: email, Role: role, PasswordHash: hash,
			PasswordMustChange: mustChange, EmailVerified: true}, storage.Effects{
			Audit: []storage.AuditEvent{{At: time.Now().UTC(), Kind: "user_created", Detail: map[string]string{"by": "cli", "role": role}}},
		})
		if errors.Is(err, storage.ErrAlreadyExists) {
			return fmt.Errorf("a user with email %q already exists", email)
		} else if err != nil {
			return err
		}
		return print(u, "created")
	case "list":
		us, err := st.ListUsers(e.ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			out := make([]userView, 0, len(us))
			for _, u := range us {
				out = append(out, viewUser(u))
			}
			return e.printJSON(out)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tROLE\tTOTP\tDISABLED")
		for _, u := range us {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%t\n", u.ID, u.Email, u.Role, u.TOTPEnabled(), u.Disabled)
		}
		return tw.Flush()
	case "get":
		u, err := one()
		if err != nil {
			return err
		}
		return print(u, "")
	case "set-role":
		if len(pos) != 2 || (pos[1] != storage.RoleUser && pos[1] != storage.RoleAdmin) {
			return fmt.Errorf("%w: latch users set-role ID-OR-EMAIL user|admin", errUsage)
		}
		u, err := one()
		if err != nil {
			return err
		}
		u, err = st.UpdateUser(e.ctx, u.ID, audit(u.ID, "role_changed", map[string]string{"role": pos[1]}), func(u *storage.User) error {
			u.Role = pos[1]
			return nil
		})
		if err != nil {
			return err
		}
		return print(u, "set role "+pos[1]+" for")
	case "disable", "enable":
		u, err := one()
		if err != nil {
			return err
		}
		disable := sub == "disable"
		u, err = st.UpdateUser(e.ctx, u.ID, audit(u.ID, "user_"+sub+"d", nil), func(u *storage.User) error {
			u.Disabled = disable
			return nil
		})
		if err != nil {
			return err
		}
		if disable {
			if err := e.revokeUser(st, u.ID); err != nil {
				return fmt.Errorf("user disabled, but revoking their tokens failed: %w", err)
			}
		}
		return print(u, sub+"d")
	case "reset-mfa":
		u, err := one()
		if err != nil {
			return err
		}
		// The secret and the backup codes go together, with the audit
		// event: a failure leaves the user's second factor as it was.
		u, err = st.SetTOTP(e.ctx, u.ID, nil, nil, audit(u.ID, "mfa_reset", nil))
		if err != nil {
			return err
		}
		return print(u, "reset two-factor authentication of")
	}
	return fmt.Errorf("%w: unknown subcommand users %s", errUsage, sub)
}

func audit(userID, kind string, detail map[string]string) storage.Effects {
	if detail == nil {
		detail = map[string]string{}
	}
	detail["by"] = "cli"
	return storage.Effects{Audit: []storage.AuditEvent{{At: time.Now().UTC(), Kind: kind, UserID: userID, Detail: detail}}}
}

// revokeUser revokes a user's refresh tokens in PostgreSQL and, when
// LATCH_REDIS_URL is set, their access tokens and browser sessions too.
func (e *cliEnv) revokeUser(st *postgres.Store, userID string) error {
	rurl := lookupEnv("LATCH_REDIS_URL")
	if rurl == "" {
		if _, err := st.RevokeUserRefreshTokens(e.ctx, userID, storage.Effects{}); err != nil {
			return err
		}
		fmt.Fprintln(e.stderr, "latch: LATCH_REDIS_URL is not set: refresh tokens are revoked; access tokens expire on their own and browser sessions are refused at the next request")
		return nil
	}
	rdb, err := server.OpenRedis(rurl)
	if err != nil {
		return err
	}
	defer rdb.Close()
	rs := redisstore.New(rdb, provider.RequestClientID)
	return provider.NewRevoker(st, rs, session.NewStore(rdb, session.Options{})).RevokeUser(e.ctx, userID)
}
