package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Server mode: with --server URL (or LATCH_SERVER) the administration
// commands go to a running latch's admin API instead of the database, with
// a bearer token (--token, LATCH_TOKEN) or a client credential granted
// latch:admin (--client-id and --client-secret, LATCH_CLIENT_ID and
// LATCH_CLIENT_SECRET), for which the CLI gets a token itself. Answers are
// printed as JSON.

// remoteFlags are the global flags of server mode.
type remoteFlags struct {
	server, token, clientID, clientSecret string
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

// create posts the JSON read from file (or stdin) to base.
func (r *remote) create(base, what, file string) error {
	var body json.RawMessage
	if err := r.e.readJSON(file, what, &body); err != nil {
		return err
	}
	return r.print(http.MethodPost, base, []byte(body))
}

func (r *remote) get(base, id string) error {
	return r.print(http.MethodGet, base+"/"+url.PathEscape(id), nil)
}

func (r *remote) delete(base, id string) error {
	if err := r.call(http.MethodDelete, base+"/"+url.PathEscape(id), nil, "", nil); err != nil {
		return err
	}
	fmt.Fprintf(r.e.stdout, "deleted %s\n", id)
	return nil
}

// action posts to one of an item's actions (/rotate-secret, /disable).
func (r *remote) action(base, id, action string) error {
	return r.print(http.MethodPost, base+"/"+url.PathEscape(id)+action, nil)
}

// userAction is action on a user named by ID or email address.
func (r *remote) userAction(idOrEmail, action string) error {
	id, err := r.userID(idOrEmail)
	if err != nil {
		return err
	}
	return r.action("/users", id, action)
}

// setRole changes a user's role, with the ETag it was read with.
func (r *remote) setRole(idOrEmail, role string) error {
	id, err := r.userID(idOrEmail)
	if err != nil {
		return err
	}
	var h http.Header
	if err := r.call(http.MethodGet, "/users/"+url.PathEscape(id), nil, "", &h); err != nil {
		return err
	}
	var out any
	if err := r.call(http.MethodPatch, "/users/"+url.PathEscape(id), map[string]any{"role": role}, h.Get("ETag"), &out); err != nil {
		return err
	}
	return r.e.printJSON(out)
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
