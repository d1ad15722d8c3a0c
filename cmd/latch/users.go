package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/backchannel"
	"github.com/latch-idp/latch/internal/server"
	"github.com/latch-idp/latch/password"
	"github.com/latch-idp/latch/session"
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
func passwordChecker() (*password.Hasher, password.Checker, error) {
	var c server.Config
	cf := bindServe(pflag.NewFlagSet("users", pflag.ContinueOnError), &c)
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

const usersLong = `Create and manage user accounts. A user is named by its ID or its email
address (case-insensitively). Passwords are checked as the server checks
them (the same LATCH_PASSWORD_MIN_LENGTH, LATCH_HIBP and LATCH_ARGON2_*
settings). disable also revokes the user's tokens and, with
LATCH_REDIS_URL, ends their browser sessions at once.`

var roles = []string{storage.RoleUser, storage.RoleAdmin}

func (e *cliEnv) usersCmd() *cobra.Command {
	cmd := group("users", "Create and manage user accounts", usersLong)
	list := e.listCmd("latch users", "users", "/users", e.listUsers)
	get := hideJSON(e.admin(&cobra.Command{
		Use:     "get ID-OR-EMAIL",
		Short:   "Print a user as JSON (never a password hash or TOTP secret)",
		Example: "  latch users get alice@example.com",
		Args:    exactly("ID-OR-EMAIL"),
	}, func(_ *cobra.Command, args []string) error {
		return e.withStore(true, func(st *postgres.Store) error {
			u, err := findUser(e, st, args[0])
			if err != nil {
				return err
			}
			return e.printJSON(viewUser(u))
		})
	}, func(r *remote, args []string) error {
		id, err := r.userID(args[0])
		if err != nil {
			return err
		}
		return r.get("/users", id)
	}))
	setRole := e.admin(&cobra.Command{
		Use:     "set-role ID-OR-EMAIL ROLE",
		Short:   "Make a user an admin, or a user again",
		Example: "  latch users set-role alice@example.com admin\n  latch users set-role alice@example.com user",
		Args:    exactly("ID-OR-EMAIL", "ROLE"),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) == 1 {
				return roles, cobra.ShellCompDirectiveNoFileComp
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		},
	}, func(cmd *cobra.Command, args []string) error {
		role := args[1]
		if !accounts.ValidRole(role) {
			return usagef(cmd, "ROLE is user or admin, not %q", role)
		}
		return e.changeUser(cmd, args[0], "set role "+role+" for", func(svc *accounts.Service, id string) (storage.User, error) {
			return svc.SetRole(e.ctx, byCLI, id, role)
		})
	}, func(r *remote, args []string) error { return r.setRole(args[0], args[1]) })
	disable := e.userActionCmd("disable", "Disable a user: sign-in refused, tokens and sessions revoked", "disabled",
		func(svc *accounts.Service, id string) (storage.User, error) {
			return svc.SetDisabled(e.ctx, byCLI, id, true)
		})
	enable := e.userActionCmd("enable", "Enable a disabled user again", "enabled",
		func(svc *accounts.Service, id string) (storage.User, error) {
			return svc.SetDisabled(e.ctx, byCLI, id, false)
		})
	resetMFA := e.userActionCmd("reset-mfa", "Remove a user's TOTP secret and backup codes (for a lost authenticator)", "reset two-factor authentication of",
		func(svc *accounts.Service, id string) (storage.User, error) { return svc.ResetMFA(e.ctx, byCLI, id) })
	cmd.AddCommand(e.createUserCmd(), list, get, setRole, disable, enable, resetMFA)
	return cmd
}

// userActionCmd is `users NAME ID-OR-EMAIL`: change through the accounts
// service, or with --server the admin API's action NAME on the user.
func (e *cliEnv) userActionCmd(name, short, verb string, change func(svc *accounts.Service, id string) (storage.User, error)) *cobra.Command {
	return e.admin(&cobra.Command{
		Use:     name + " ID-OR-EMAIL",
		Short:   short,
		Example: "  latch users " + name + " alice@example.com",
		Args:    exactly("ID-OR-EMAIL"),
	}, func(cmd *cobra.Command, args []string) error { return e.changeUser(cmd, args[0], verb, change) },
		func(r *remote, args []string) error { return r.userAction(args[0], "/"+name) })
}

// newUserFlags are the flags of users create.
type newUserFlags struct {
	email, password, role string
	stdin, mustChange     bool
}

func (e *cliEnv) createUserCmd() *cobra.Command {
	var f newUserFlags
	cmd := e.admin(&cobra.Command{
		Use:   "create --email E (--password P | --password-stdin) [--role ROLE] [--password-must-change]",
		Short: "Create a user, email verified",
		Long: `Create a user whose email address counts as verified. The password must
pass the server's checks; --password-stdin reads it from the first line of
stdin, so that it stays out of the shell's history and the process list.
Only --password-must-change forces a new password at first login.`,
		Example: `  latch users create --email admin@example.com --password-stdin --role admin < password.txt
  latch users create --email alice@example.com --password 'correct horse battery staple' --password-must-change`,
		Args: exactly(),
	}, func(cmd *cobra.Command, _ []string) error { return e.createUser(cmd, f) },
		func(r *remote, _ []string) error {
			if f.stdin {
				line, err := readLine(e.stdin)
				if err != nil {
					return fmt.Errorf("--password-stdin: %v", err)
				}
				f.password = line
			}
			return r.print(http.MethodPost, "/users", map[string]any{"email": f.email, "password": f.password, "role": f.role, "password_must_change": f.mustChange})
		})
	fl := cmd.Flags()
	fl.StringVar(&f.email, "email", "", "email address (required)")
	fl.StringVar(&f.password, "password", "", "password")
	fl.BoolVar(&f.stdin, "password-stdin", false, "read the password from the first line of stdin")
	fl.StringVar(&f.role, "role", storage.RoleUser, "role: user or admin")
	fl.BoolVar(&f.mustChange, "password-must-change", false, "force a new password at first login")
	_ = cmd.RegisterFlagCompletionFunc("role", fixed(roles...))
	_ = cmd.RegisterFlagCompletionFunc("email", cobra.NoFileCompletions)
	return cmd
}

func (e *cliEnv) createUser(cmd *cobra.Command, f newUserFlags) error {
	email, ok := accounts.AccountEmail(f.email)
	if !ok {
		return usagef(cmd, "--email is required and must be an email address like name@example.com (ASCII only)")
	}
	if !accounts.ValidRole(f.role) {
		return usagef(cmd, "--role must be user or admin")
	}
	pw := f.password
	if f.stdin {
		var err error
		if pw, err = readLine(e.stdin); err != nil {
			return fmt.Errorf("--password-stdin: %v", err)
		}
	}
	if pw == "" {
		return usagef(cmd, "give --password or --password-stdin")
	}
	return e.withStore(false, func(st *postgres.Store) error {
		hasher, checker, err := passwordChecker()
		if err != nil {
			return err
		}
		svc, err := accounts.New(accounts.Config{Store: st, Hasher: hasher, Checker: checker})
		if err != nil {
			return err
		}
		u, err := svc.Create(e.ctx, byCLI, accounts.NewUser{Email: email, Role: f.role, Password: pw, MustChange: f.mustChange})
		if invalid := accounts.Invalid(err); len(invalid) > 0 {
			return fmt.Errorf("password refused: %s", invalid[0].Message)
		} else if errors.Is(err, accounts.ErrAlreadyExists) {
			return fmt.Errorf("a user with email %q already exists", email)
		} else if err != nil {
			return err
		}
		return e.printUser(cmd, u, "created")
	})
}

func (e *cliEnv) listUsers(cmd *cobra.Command, _ []string) error {
	return e.withStore(true, func(st *postgres.Store) error {
		us, err := st.ListUsers(e.ctx)
		if err != nil {
			return err
		}
		return printList(e, cmd, us, viewUser, "ID\tEMAIL\tROLE\tTOTP\tDISABLED", func(u storage.User) string {
			return fmt.Sprintf("%s\t%s\t%s\t%t\t%t", u.ID, u.Email, u.Role, u.TOTPEnabled(), u.Disabled)
		})
	})
}

// changeUser finds the user ref names, changes it with change (through
// the accounts service, which revokes what disabling ends) and prints it:
// as JSON with --json, else one line with verb.
func (e *cliEnv) changeUser(cmd *cobra.Command, ref, verb string, change func(svc *accounts.Service, id string) (storage.User, error)) error {
	return e.withStore(false, func(st *postgres.Store) error {
		u, err := findUser(e, st, ref)
		if err != nil {
			return err
		}
		svc, err := accounts.New(accounts.Config{Store: st, Revoker: cliRevoker{e: e, st: st}})
		if err != nil {
			return err
		}
		if u, err = change(svc, u.ID); err != nil {
			return err
		}
		return e.printUser(cmd, u, verb)
	})
}

func (e *cliEnv) printUser(cmd *cobra.Command, u storage.User, verb string) error {
	if wantJSON(cmd) {
		return e.printJSON(viewUser(u))
	}
	fmt.Fprintf(e.stdout, "%s user %s (%s)\n", verb, u.Email, u.ID)
	return nil
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
		if err := use(server.NewRevocation(r.st, nil, session.Options{})); err != nil {
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
	// Sessions ended here are told to their applications by the running
	// servers, which deliver what is queued in PostgreSQL.
	log := slog.New(slog.NewTextHandler(r.e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	q, err := backchannel.NewPostgresQueue(r.st.Pool(), backchannel.NewDeliverer("", nil, nil, false), log, 0)
	if err != nil {
		return err
	}
	notifier := &backchannel.Notifier{Clients: r.st, Enqueue: q.Enqueue, Log: log}
	return use(server.NewRevocation(r.st, rdb, session.Options{Ended: notifier.Ended}))
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
