package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
)

// login runs the authorization code flow with PKCE as a browser and a
// public client would: GET the authorization endpoint, follow to the login
// page, post the form with the password (latch verifies it with Argon2id),
// follow the redirects until the one to the redirect URI (which is never
// fetched), and exchange the code with the verifier. Every call starts
// with an empty cookie jar, so there is no session to skip the login with.
func (b *bench) login(ctx context.Context, c *http.Client) (tokenResponse, error) {
	jar, _ := cookiejar.New(nil)
	c.Jar = jar
	verifier, state, nonce := randomString(32), randomString(12), randomString(12)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"response_type":         {"code"},
		"client_id":             {b.c.publicClientID},
		"redirect_uri":          {b.c.redirectURI},
		"scope":                 {"openid"},
		"state":                 {state},
		"nonce":                 {nonce},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	next, err := url.Parse(b.ep.Authorization + "?" + q.Encode())
	if err != nil {
		return tokenResponse{}, err
	}
	var code string
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, next.String(), nil)
	if err != nil {
		return tokenResponse{}, err
	}
	loggedIn := false
	for step := 0; code == ""; step++ {
		if step == 10 {
			return tokenResponse{}, fmt.Errorf("no redirect to the client after 10 steps; last %s", req.URL.Path)
		}
		resp, body, err := do(c, req)
		if err != nil {
			return tokenResponse{}, err
		}
		switch {
		case resp.StatusCode == http.StatusFound || resp.StatusCode == http.StatusSeeOther:
			loc, err := req.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				return tokenResponse{}, fmt.Errorf("%s %s: bad Location: %w", req.Method, req.URL.Path, err)
			}
			if strings.HasPrefix(loc.String(), b.c.redirectURI) {
				cq := loc.Query()
				if e := cq.Get("error"); e != "" {
					return tokenResponse{}, fmt.Errorf("authorization failed: %s: %s", e, cq.Get("error_description"))
				}
				if cq.Get("state") != state {
					return tokenResponse{}, errors.New("callback state does not match")
				}
				if code = cq.Get("code"); code == "" {
					return tokenResponse{}, errors.New("callback without code")
				}
				break
			}
			if req, err = http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil); err != nil {
				return tokenResponse{}, err
			}
		case resp.StatusCode == http.StatusOK && req.Method == http.MethodGet && req.URL.Path == "/login" && !loggedIn:
			action, fields, err := loginForm(string(body))
			if err != nil {
				return tokenResponse{}, fmt.Errorf("GET /login: %w", err)
			}
			target, err := req.URL.Parse(action)
			if err != nil {
				return tokenResponse{}, fmt.Errorf("GET /login: form action %q: %w", action, err)
			}
			fields.Set("email", b.c.email)
			fields.Set("password", b.c.password)
			if req, err = http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(fields.Encode())); err != nil {
				return tokenResponse{}, err
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			loggedIn = true
		default:
			return tokenResponse{}, httpError(req, resp, pageText(body))
		}
	}
	return postToken(ctx, c, b.ep.Token, url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {b.c.redirectURI},
		"client_id":     {b.c.publicClientID},
		"code_verifier": {verifier},
	}, "", "")
}

var (
	formRE  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRE = regexp.MustCompile(`(?is)<input\b[^>]*>`)
	attrRE  = regexp.MustCompile(`(?is)([a-z_:-]+)\s*=\s*"([^"]*)"`)
	alertRE = regexp.MustCompile(`(?is)role="alert"[^>]*>(.*?)<`)
	h1RE    = regexp.MustCompile(`(?is)<h1[^>]*>(.*?)</h1>`)
)

// loginForm finds the form with the password field and returns its action
// and the values of its hidden inputs (csrf_token, flow).
func loginForm(page string) (string, url.Values, error) {
	for _, m := range formRE.FindAllStringSubmatch(page, -1) {
		if !strings.Contains(m[2], `name="password"`) {
			continue
		}
		action := attrs(m[1])["action"]
		fields := url.Values{}
		for _, in := range inputRE.FindAllString(m[2], -1) {
			a := attrs(in)
			if a["type"] == "hidden" && a["name"] != "" {
				fields.Set(a["name"], a["value"])
			}
		}
		if fields.Get("csrf_token") == "" {
			return "", nil, errors.New("the login form has no csrf_token")
		}
		return action, fields, nil
	}
	return "", nil, errors.New("no login form with a password field")
}

func attrs(tag string) map[string]string {
	out := map[string]string{}
	for _, m := range attrRE.FindAllStringSubmatch(tag, -1) {
		out[strings.ToLower(m[1])] = html.UnescapeString(m[2])
	}
	return out
}

// pageText shortens an unexpected HTML page to its alert or heading.
func pageText(body []byte) []byte {
	if m := alertRE.FindSubmatch(body); m != nil {
		return []byte("page alert: " + html.UnescapeString(string(m[1])))
	}
	if m := h1RE.FindSubmatch(body); m != nil {
		return []byte("page: " + html.UnescapeString(string(m[1])))
	}
	return body
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
