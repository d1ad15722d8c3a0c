// Package backchannel tells applications that a user's session ended
// (OpenID Connect Back-Channel Logout 1.0): for each client that took part
// in the session and registered a backchannel_logout_uri, it posts a signed
// logout token there, from a durable queue with retries, never from the
// request that ended the session.
//
// Delivery goes only to the registered URL, without following redirects,
// with a short timeout, and never to a private, loopback or link-local
// address unless the operator allows it (AllowPrivate): the address checked
// is the one dialled, so a name that resolves elsewhere later cannot steer
// latch into its own network.
package backchannel

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	fjwt "github.com/ory/fosite/token/jwt"

	"github.com/latch-idp/latch/publicnet"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/storage"
)

// TokenType is the logout token's typ header (section 2.4).
const TokenType = "logout+jwt"

// Event is the logout token's event (section 2.4).
const Event = "http://schemas.openid.net/event/backchannel-logout"

// tokenTTL is how long a logout token is valid: a receiver checks it as
// it arrives, and each retry signs a new one.
const tokenTTL = 2 * time.Minute

// Timeout bounds one delivery.
const Timeout = 5 * time.Second

// Job is one logout to deliver: queued when the session ends, signed at
// each attempt.
type Job struct {
	ClientID  string `json:"client_id"`
	URI       string `json:"uri"`
	Subject   string `json:"sub"`
	SessionID string `json:"sid"`
	JTI       string `json:"jti"`
	// Alg is the client's id_token_signed_response_alg: logout tokens are
	// signed as its ID tokens are. Empty for the default signer's.
	Alg string `json:"alg,omitempty"`
}

// Kind names the job for the queue (river.JobArgs).
func (Job) Kind() string { return "backchannel_logout" }

// Signer signs the logout token (keys.Signer, the ID tokens' signer).
type Signer interface {
	Generate(ctx context.Context, claims fjwt.MapClaims, header fjwt.Mapper) (string, string, error)
}

// Clients finds the clients of an ended session.
type Clients interface {
	GetClient(ctx context.Context, id string) (storage.Client, error)
}

// Enqueue hands jobs to the queue.
type Enqueue func(ctx context.Context, jobs []Job) error

// Notifier turns ended sessions into jobs: session.Options.Ended.
type Notifier struct {
	Clients Clients
	Enqueue Enqueue
	Log     *slog.Logger
}

// Ended queues a logout for each client of each ended session that has a
// backchannel_logout_uri. A failure is logged: the session has ended
// already, and the user must not wait for the applications.
func (n *Notifier) Ended(ctx context.Context, ended []session.Ended) {
	var jobs []Job
	for _, e := range ended {
		for _, p := range e.Clients {
			c, err := n.Clients.GetClient(ctx, p.ClientID)
			if errors.Is(err, storage.ErrNotFound) {
				continue
			} else if err != nil {
				n.Log.WarnContext(ctx, "back-channel logout: load client", "client_id", p.ClientID, "err", err)
				continue
			}
			if c.BackchannelLogoutURI == "" {
				continue
			}
			jobs = append(jobs, Job{ClientID: c.ID, URI: c.BackchannelLogoutURI, Subject: e.UserID, SessionID: p.SID, JTI: newJTI(),
				Alg: c.IDTokenSignedResponseAlg})
		}
	}
	if len(jobs) == 0 {
		return
	}
	if err := n.Enqueue(context.WithoutCancel(ctx), jobs); err != nil {
		n.Log.WarnContext(ctx, "back-channel logout: queue", "jobs", len(jobs), "err", err)
	}
}

// Told lists the names of those of the clients ids that are told when a
// session they took part in ends, for the sign-out page.
func Told(ctx context.Context, clients Clients, ids []string) []string {
	var names []string
	for _, id := range ids {
		c, err := clients.GetClient(ctx, id)
		if err != nil || c.BackchannelLogoutURI == "" {
			continue
		}
		names = append(names, nameOf(c))
	}
	return names
}

func nameOf(c storage.Client) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

func newJTI() string {
	b := make([]byte, 16)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Deliverer signs and posts logout tokens.
type Deliverer struct {
	issuer string
	signer Signer
	byAlg  map[string]Signer
	client *http.Client
}

// NewDeliverer returns a deliverer for issuer's logout tokens, signed by
// signer, or by byAlg's signer of the algorithm the client registered for
// its ID tokens. allowPrivate lets deliveries reach private, loopback and
// link-local addresses (a receiver inside the operator's own network);
// otherwise they connect only where publicnet allows.
func NewDeliverer(issuer string, signer Signer, byAlg map[string]Signer, allowPrivate bool) *Deliverer {
	transport := publicnet.NewTransport(Timeout)
	if allowPrivate {
		// No proxy either way: the address dialled is the receiver's own.
		transport.DialContext = (&net.Dialer{Timeout: Timeout}).DialContext
	}
	return &Deliverer{
		issuer: strings.TrimRight(issuer, "/"),
		signer: signer,
		byAlg:  byAlg,
		client: &http.Client{
			Timeout:       Timeout,
			Transport:     transport,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// Token is the logout token of j, valid from now.
func (d *Deliverer) Token(ctx context.Context, j Job) (string, error) {
	now := time.Now()
	claims := fjwt.MapClaims{
		"iss":    d.issuer,
		"aud":    []string{j.ClientID},
		"iat":    now.Unix(),
		"exp":    now.Add(tokenTTL).Unix(),
		"jti":    j.JTI,
		"events": map[string]any{Event: map[string]any{}},
	}
	if j.Subject != "" {
		claims["sub"] = j.Subject
	}
	if j.SessionID != "" {
		claims["sid"] = j.SessionID
	}
	signer := d.signer
	if j.Alg != "" {
		if signer = d.byAlg[j.Alg]; signer == nil {
			return "", fmt.Errorf("sign logout token: no signer for %s", j.Alg)
		}
	}
	tok, _, err := signer.Generate(ctx, claims, &fjwt.Headers{Extra: map[string]any{"typ": TokenType}})
	if err != nil {
		return "", fmt.Errorf("sign logout token: %w", err)
	}
	return tok, nil
}

// Deliver posts j's logout token to its client. A 2xx answer delivers it;
// anything else is an error worth a retry. The error names the client and
// the status, never the token.
func (d *Deliverer) Deliver(ctx context.Context, j Job) error {
	tok, err := d.Token(ctx, j)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, j.URI, strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		return fmt.Errorf("back-channel logout to client %s: %w", j.ClientID, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := d.client.Do(req)
	if err != nil {
		// Without the URL, which the client chose and may carry a secret.
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		if errors.Is(err, publicnet.ErrForbiddenAddress) {
			err = fmt.Errorf("%w (the address is private, loopback or link-local: LATCH_BACKCHANNEL_ALLOW_PRIVATE allows it)", err)
		}
		return fmt.Errorf("back-channel logout to client %s: %w", j.ClientID, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("back-channel logout to client %s: answered %s", j.ClientID, resp.Status)
	}
	return nil
}
