package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Server mode: with --server URL (or LATCH_SERVER) the administration
// commands go to a running latch's admin API instead of the database, with
// a bearer token (--token, LATCH_TOKEN) or a client credential granted
// latch:admin (--client-id and --client-secret, LATCH_CLIENT_ID and
// LATCH_CLIENT_SECRET), for which the CLI gets a token itself. Answers are
// printed as JSON.

// remoteFlags are the global flags of server mode, before the command.
type remoteFlags struct {
	server, token, clientID, clientSecret string
}

// parseRemoteFlags takes the global flags off args.
func parseRemoteFlags(args []string, stderr io.Writer) (remoteFlags, []string, error) {
	f := remoteFlags{server: os.Getenv("LATCH_SERVER"), token: os.Getenv("LATCH_TOKEN"),
		clientID: os.Getenv("LATCH_CLIENT_ID"), clientSecret: os.Getenv("LATCH_CLIENT_SECRET")}
	if len(args) == 0 || !strings.HasPrefix(args[0], "-") || args[0] == "-h" || args[0] == "--help" || args[0] == "--version" {
		return f, args, nil
	}
	fs := flag.NewFlagSet("latch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.server, "server", f.server, "URL of a running latch: commands use its admin API")
	fs.StringVar(&f.token, "token", f.token, "bearer token for the admin API")
	fs.StringVar(&f.clientID, "client-id", f.clientID, "client granted latch:admin, to get a token with")
	fs.StringVar(&f.clientSecret, "client-secret", f.clientSecret, "that client's secret")
	if err := parseFlags(fs, args); err != nil {
		return f, nil, err
	}
	return f, fs.Args(), nil
}

// remote is a running latch's admin API.
type remote struct {
	e     *cliEnv
	base  string
	token string
	http  *http.Client
}

func newRemote(e *cliEnv, f remoteFlags) (*remote, error) {
	u, err := url.Parse(f.server)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("--server: %q is not an http(s) URL", f.server)
	}
	r := &remote{e: e, base: strings.TrimRight(f.server, "/"), token: f.token, http: &http.Client{Timeout: 30 * time.Second}}
	if r.token != "" {
		return r, nil
	}
	if f.clientID == "" || f.clientSecret == "" {
		return nil, errors.New("--server needs --token, or --client-id and --client-secret of a client granted latch:admin")
	}
	return r, r.clientToken(f.clientID, f.clientSecret)
}

// clientToken gets a client_credentials token for the admin API.
func (r *remote) clientToken(id, secret string) error {
	var disc struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := r.send(http.MethodGet, r.base+"/.well-known/openid-configuration", nil, "", &disc); err != nil {
		return fmt.Errorf("discovery of %s: %w", r.base, err)
	}
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {"latch:admin"}}
	req, err := http.NewRequestWithContext(r.e.ctx, http.MethodPost, disc.TokenEndpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := r.do(req, &tok); err != nil {
		return fmt.Errorf("token for %s: %w", id, err)
	}
	r.token = tok.AccessToken
	return nil
}

// call sends one admin API request and decodes the answer into out.
func (r *remote) call(method, path string, body any, ifMatch string, out any) error {
	return r.send(method, r.base+"/admin"+path, body, ifMatch, out)
}

func (r *remote) send(method, u string, body any, ifMatch string, out any) error {
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				return err
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(r.e.ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	return r.do(req, out)
}

// do sends req; a failure is one line with the server's error.
func (r *remote) do(req *http.Request, out any) error {
	resp, err := r.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach %s: %v", req.URL.Host, errors.Unwrap(err))
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode >= 300 {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		json.Unmarshal(raw, &e)
		return fmt.Errorf("%s %s: %s: %s", req.Method, req.URL.Path, resp.Status, strings.TrimSpace(e.Error+" "+e.Description))
	}
	if m, ok := out.(*http.Header); ok {
		*m = resp.Header
		return nil
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	return json.Unmarshal(raw, out)
}

// print calls and prints the answer as JSON.
func (r *remote) print(method, path string, body any) error {
	var out any
	if err := r.call(method, path, body, "", &out); err != nil {
		return err
	}
	if out == nil {
		out = map[string]string{"done": method + " " + path}
	}
	return r.e.printJSON(out)
}

// list prints every item of a paged list.
func (r *remote) list(path string) error {
	all := []any{}
	cursor := ""
	for {
		var page struct {
			Items      []any  `json:"items"`
			NextCursor string `json:"next_cursor"`
		}
		q := "?limit=200"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		if err := r.call(http.MethodGet, path+q, nil, "", &page); err != nil {
			return err
		}
		all = append(all, page.Items...)
		if cursor = page.NextCursor; cursor == "" {
			return r.e.printJSON(all)
		}
	}
}

// run runs a command against the server.
func (r *remote) run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("%w: with --server: latch clients|resources|users|keys SUBCOMMAND", errUsage)
	}
	cmd, sub, rest := args[0], args[1], args[2:]
	switch cmd {
	case "clients":
		if sub == "registration-token" {
			return r.registrationTokens(rest)
		}
		return r.crud("/clients", "client metadata", sub, rest, map[string]string{"rotate-secret": "/rotate-secret"})
	case "resources":
		return r.crud("/resources", "resource", sub, rest, nil)
	case "users":
		return r.users(sub, rest)
	case "keys":
		switch sub {
		case "list":
			return r.list("/keys")
		case "rotate":
			return r.print(http.MethodPost, "/keys/rotate", nil)
		}
	}
	return fmt.Errorf("%w: %s %s is not available with --server", errUsage, cmd, sub)
}

// crud is create (JSON from -f FILE or stdin), list, get ID, delete ID,
// and the POST actions on one item.
func (r *remote) crud(base, what, sub string, args []string, actions map[string]string) error {
	fs := newFlagSet(strings.TrimPrefix(base, "/")+" "+sub, r.e.stderr)
	file := fs.String("f", "", "read the JSON from this file instead of stdin")
	fs.Bool("json", true, "print JSON (always, with --server)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	switch {
	case sub == "create" && len(pos) == 0:
		var body json.RawMessage
		if err := r.e.readJSON(*file, what, &body); err != nil {
			return err
		}
		return r.print(http.MethodPost, base, []byte(body))
	case sub == "list" && len(pos) == 0:
		return r.list(base)
	case sub == "get" && len(pos) == 1:
		return r.print(http.MethodGet, base+"/"+url.PathEscape(pos[0]), nil)
	case sub == "delete" && len(pos) == 1:
		if err := r.call(http.MethodDelete, base+"/"+url.PathEscape(pos[0]), nil, "", nil); err != nil {
			return err
		}
		fmt.Fprintf(r.e.stdout, "deleted %s\n", pos[0])
		return nil
	case actions[sub] != "" && len(pos) == 1:
		return r.print(http.MethodPost, base+"/"+url.PathEscape(pos[0])+actions[sub], nil)
	}
	return fmt.Errorf("%w: latch --server URL %s create|list|get ID|delete ID", errUsage, strings.TrimPrefix(base, "/"))
}

func (r *remote) registrationTokens(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: latch --server URL clients registration-token create|list|delete ID", errUsage)
	}
	sub := args[0]
	fs := newFlagSet("clients registration-token "+sub, r.e.stderr)
	ttl := fs.Duration("expires-in", 24*time.Hour, "how long the token may be used")
	maxUses := fs.Int("max-uses", 1, "how many clients it may register; 0: any number")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	switch {
	case sub == "create" && len(pos) == 0:
		return r.print(http.MethodPost, "/registration-tokens", map[string]any{"expires_in": ttl.String(), "max_uses": *maxUses})
	case sub == "list" && len(pos) == 0:
		return r.list("/registration-tokens")
	case sub == "delete" && len(pos) == 1:
		return r.call(http.MethodDelete, "/registration-tokens/"+url.PathEscape(pos[0]), nil, "", nil)
	}
	return fmt.Errorf("%w: latch --server URL clients registration-token create|list|delete ID", errUsage)
}

func (r *remote) users(sub string, args []string) error {
	fs := newFlagSet("users "+sub, r.e.stderr)
	email := fs.String("email", "", "email address (create)")
	pw := fs.String("password", "", "password (create)")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin (create)")
	role := fs.String("role", "user", "role: user or admin (create)")
	mustChange := fs.Bool("password-must-change", false, "force a new password at first login (create)")
	fs.Bool("json", true, "print JSON (always, with --server)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	actions := map[string]string{"disable": "/disable", "enable": "/enable", "reset-mfa": "/reset-mfa"}
	switch {
	case sub == "list" && len(pos) == 0:
		return r.list("/users")
	case sub == "create" && len(pos) == 0:
		if *pwStdin {
			line, _ := bufio.NewReader(r.e.stdin).ReadString('\n')
			*pw = strings.TrimRight(line, "\r\n")
		}
		return r.print(http.MethodPost, "/users", map[string]any{"email": *email, "password": *pw, "role": *role, "password_must_change": *mustChange})
	case len(pos) >= 1 && (sub == "get" || actions[sub] != "" || sub == "set-role"):
		id, err := r.userID(pos[0])
		if err != nil {
			return err
		}
		switch {
		case sub == "get":
			return r.print(http.MethodGet, "/users/"+url.PathEscape(id), nil)
		case sub == "set-role" && len(pos) == 2:
			var h http.Header
			if err := r.call(http.MethodGet, "/users/"+url.PathEscape(id), nil, "", &h); err != nil {
				return err
			}
			var out any
			if err := r.call(http.MethodPatch, "/users/"+url.PathEscape(id), map[string]any{"role": pos[1]}, h.Get("ETag"), &out); err != nil {
				return err
			}
			return r.e.printJSON(out)
		case actions[sub] != "":
			return r.print(http.MethodPost, "/users/"+url.PathEscape(id)+actions[sub], nil)
		}
	}
	return fmt.Errorf("%w: latch --server URL users list|get|create|set-role|disable|enable|reset-mfa", errUsage)
}

// userID resolves an ID or an email address.
func (r *remote) userID(idOrEmail string) (string, error) {
	if !strings.Contains(idOrEmail, "@") {
		return idOrEmail, nil
	}
	var page struct {
		Items []struct {
			ID    string `json:"id"`
			Email string `json:"email"`
		} `json:"items"`
	}
	if err := r.call(http.MethodGet, "/users?limit=200&q="+url.QueryEscape(idOrEmail), nil, "", &page); err != nil {
		return "", err
	}
	for _, u := range page.Items {
		if strings.EqualFold(u.Email, idOrEmail) {
			return u.ID, nil
		}
	}
	return "", fmt.Errorf("no user %q", idOrEmail)
}
