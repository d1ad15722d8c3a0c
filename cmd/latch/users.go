package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/internal/server"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/storage/postgres"
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
	st, err := e.openStore(sub)
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
	// Only create hashes and checks a password, and only disable revokes:
	// the service of the other commands needs neither part.
	svc, err := accounts.New(accounts.Config{Store: st, Revoker: cliRevoker{e: e, st: st}})
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		var okEmail bool
		if email, okEmail = accounts.AccountEmail(email); !okEmail {
			return fmt.Errorf("%w: --email is required and must be an email address like name@example.com (ASCII only)", errUsage)
		}
		if !accounts.ValidRole(role) {
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
		svc, err := accounts.New(accounts.Config{Store: st, Hasher: hasher, Checker: checker})
		if err != nil {
			return err
		}
		u, err := svc.Create(e.ctx, byCLI, accounts.NewUser{Email: email, Role: role, Password: pw, MustChange: mustChange})
		if invalid := accounts.Invalid(err); len(invalid) > 0 {
			return fmt.Errorf("password refused: %s", invalid[0].Message)
		} else if errors.Is(err, accounts.ErrAlreadyExists) {
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
		if u, err = svc.SetRole(e.ctx, byCLI, u.ID, pos[1]); err != nil {
			return err
		}
		return print(u, "set role "+pos[1]+" for")
	case "disable", "enable":
		u, err := one()
		if err != nil {
			return err
		}
		if u, err = svc.SetDisabled(e.ctx, byCLI, u.ID, sub == "disable"); err != nil {
			return err
		}
		return print(u, sub+"d")
	case "reset-mfa":
		u, err := one()
		if err != nil {
			return err
		}
		if u, err = svc.ResetMFA(e.ctx, byCLI, u.ID); err != nil {
			return err
		}
		return print(u, "reset two-factor authentication of")
	}
	return fmt.Errorf("%w: unknown subcommand users %s", errUsage, sub)
}

// byCLI is the actor of every change made here, in the audit log.
var byCLI = accounts.Actor{By: "cli"}

// cliRevoker is the server's revocation service, reached only when a
// command revokes: without LATCH_REDIS_URL it revokes the user's refresh
// tokens in PostgreSQL and says what it could not end.
type cliRevoker struct {
	e  *cliEnv
	st *postgres.Store
}

func (r cliRevoker) revocation(use func(*accounts.Revocation) error) error {
	rurl := lookupEnv("LATCH_REDIS_URL")
	if rurl == "" {
		if err := use(server.NewRevocation(r.st, nil)); err != nil {
			return err
		}
		fmt.Fprintln(r.e.stderr, "latch: LATCH_REDIS_URL is not set: refresh tokens are revoked; access tokens expire on their own and browser sessions are refused at the next request")
		return nil
	}
	rdb, err := server.OpenRedis(rurl)
	if err != nil {
		return err
	}
	defer rdb.Close()
	return use(server.NewRevocation(r.st, rdb))
}

func (r cliRevoker) RevokeUser(ctx context.Context, userID string) error {
	return r.revocation(func(v *accounts.Revocation) error { return v.RevokeUser(ctx, userID) })
}

func (r cliRevoker) RevokeUserWith(ctx context.Context, userID string, fx storage.Effects) error {
	return r.revocation(func(v *accounts.Revocation) error { return v.RevokeUserWith(ctx, userID, fx) })
}

func (r cliRevoker) RevokeClientGrant(ctx context.Context, userID, clientID string) error {
	return r.revocation(func(v *accounts.Revocation) error { return v.RevokeClientGrant(ctx, userID, clientID) })
}
