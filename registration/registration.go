// Package registration serves dynamic client registration (RFC 7591) and
// its management protocol (RFC 7592): a client registers itself, gets a
// registration access token, and with it reads, updates or deletes its
// registration. It is off unless the operator opens it, to anyone or to
// holders of an initial access token an administrator made.
//
// A client that registers itself is trusted no more than a stranger: it is
// a third party (the user is asked), gets only grants a user consents to,
// never latch's admin scope, and gives its keys inline rather than making
// latch fetch them. Tokens are kept as keyed hashes and compared in
// constant time; neither tokens nor secrets are ever logged.
package registration

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/ratelimit"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web"
)

// Path is the registration endpoint; a client's registration is at
// Path/{client_id}.
const Path = "/oauth2/register"

// Modes of registration (LATCH_CLIENT_REGISTRATION).
const (
	Closed = "closed" // no endpoint at all
	Token  = "token"  // an initial access token is needed
	Open   = "open"   // anyone may register
)

// Modes lists the modes, the default first.
func Modes() []string { return []string{Closed, Token, Open} }

// Store is what registration needs of the durable store.
type Store interface {
	CreateClient(ctx context.Context, c storage.Client) error
	GetClient(ctx context.Context, id string) (storage.Client, error)
	UpdateClient(ctx context.Context, c storage.Client) error
	DeleteClient(ctx context.Context, id string) error
	UseInitialAccessToken(ctx context.Context, hash []byte) (storage.InitialAccessToken, error)
	AppendAudit(ctx context.Context, e storage.AuditEvent) error
	storage.Transactor
}

// Clients is told when a client changes, so that caches drop it at once
// (provider's client cache).
type Clients interface {
	ClientChanged(id string)
}

// Config configures a Handler.
type Config struct {
	Mode    string
	Issuer  string
	Store   Store
	Box     *secret.Box
	Clients Clients
	// Limit counts registrations per client IP.
	Limit *ratelimit.Limiter
	Log   *slog.Logger
}

// Handler serves registration.
type Handler struct{ c Config }

// New returns a Handler.
func New(c Config) *Handler {
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	return &Handler{c: c}
}

// Endpoint is the registration endpoint's URL in mode, or "" when
// registration is closed: what discovery advertises.
func Endpoint(mode, issuer string) string {
	if mode == Closed || mode == "" {
		return ""
	}
	return strings.TrimRight(issuer, "/") + Path
}

// Endpoint is the handler's registration endpoint, or "" when closed.
func (h *Handler) Endpoint() string { return Endpoint(h.c.Mode, h.c.Issuer) }

// Mount adds the endpoints. Closed, they answer every request with a
// JSON 404 that says so.
func (h *Handler) Mount(r *mux.Router) {
	if h.Endpoint() == "" {
		closed := func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "invalid_request", "Dynamic client registration is not enabled on this server.")
		}
		r.HandleFunc(Path, closed)
		r.HandleFunc(Path+"/{client_id}", closed)
		return
	}
	r.HandleFunc(Path, h.register).Methods(http.MethodPost)
	r.HandleFunc(Path+"/{client_id}", h.read).Methods(http.MethodGet)
	r.HandleFunc(Path+"/{client_id}", h.update).Methods(http.MethodPut)
	r.HandleFunc(Path+"/{client_id}", h.delete).Methods(http.MethodDelete)
}

// maxBody bounds a registration request.
const maxBody = 64 << 10

// register is RFC 7591 section 3.
func (h *Handler) register(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ip := web.ClientNetwork(r)
	if wait, err := h.c.Limit.Check(ctx, ip); err != nil {
		h.serverError(w, r, "rate limit", err)
		return
	} else if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		writeError(w, http.StatusTooManyRequests, "too_many_requests", "Too many registrations from this address; try again later.")
		return
	}
	// Every attempt counts, so that hostile input cannot probe for free.
	if _, err := h.c.Limit.Fail(ctx, ip); err != nil {
		h.serverError(w, r, "rate limit", err)
		return
	}
	initial := ""
	if h.c.Mode == Token {
		var ok bool
		if initial, ok = bearer(r); !ok {
			h.unauthorized(w, "Registration needs an initial access token.")
			return
		}
	}
	m, ok := decode(w, r)
	if !ok {
		return
	}
	if err := check(&m, ""); err != nil {
		writeMetadataError(w, err)
		return
	}
	if h.c.Mode == Token {
		if _, err := h.c.Store.UseInitialAccessToken(ctx, h.c.Box.Hash(clients.RegistrationPurpose, []byte(initial))); errors.Is(err, storage.ErrNotFound) {
			h.unauthorized(w, "The initial access token is invalid, expired or used up.")
			return
		} else if err != nil {
			h.serverError(w, r, "use initial access token", err)
			return
		}
	}
	m.ClientID = clients.NewID()
	token := newToken()
	c, sec := clients.FromRegistration(m, h.c.Box.Hash(clients.RegistrationPurpose, []byte(token)), func() (string, []byte) { return clients.NewSecret(h.c.Box) })
	if err := h.audited(r, "client_registered", c.ID, func(ctx context.Context) error { return h.c.Store.CreateClient(ctx, c) }); err != nil {
		h.serverError(w, r, "create client", err)
		return
	}
	out := h.describe(c)
	out.RegistrationAccessToken = token
	if sec != "" {
		out.ClientSecret = sec
		zero := int64(0)
		out.SecretExpiresAt = &zero
	}
	writeJSON(w, http.StatusCreated, out)
}

// read is RFC 7592 section 2.1.
func (h *Handler) read(w http.ResponseWriter, r *http.Request) {
	c, ok := h.authorize(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, h.describe(c))
}

// update is RFC 7592 section 2.2: the request holds the whole new
// registration.
func (h *Handler) update(w http.ResponseWriter, r *http.Request) {
	old, ok := h.authorize(w, r)
	if !ok {
		return
	}
	m, ok := decode(w, r)
	if !ok {
		return
	}
	// The client may send back the secret it holds (RFC 7592 section
	// 2.2); it must then be that secret.
	if m.ClientSecret != "" && (old.SecretHash == nil || !h.c.Box.Verify(clients.SecretPurpose, []byte(m.ClientSecret), old.SecretHash)) {
		writeError(w, http.StatusBadRequest, "invalid_client_metadata", "client_secret: is not this client's secret.")
		return
	}
	m.ClientSecret = ""
	if err := check(&m, old.ID); err != nil {
		writeMetadataError(w, err)
		return
	}
	c, sec := clients.FromRegistration(m, old.RegistrationTokenHash, func() (string, []byte) { return clients.NewSecret(h.c.Box) })
	c.CreatedAt = old.CreatedAt
	if old.SecretHash != nil && c.SecretHash != nil {
		// Still a client with a secret: it keeps the one it has.
		c.SecretHash, sec = old.SecretHash, ""
	}
	if err := h.audited(r, "client_registration_updated", c.ID, func(ctx context.Context) error { return h.c.Store.UpdateClient(ctx, c) }); err != nil {
		h.serverError(w, r, "update client", err)
		return
	}
	h.c.Clients.ClientChanged(c.ID)
	out := h.describe(c)
	if sec != "" {
		out.ClientSecret = sec
		zero := int64(0)
		out.SecretExpiresAt = &zero
	}
	writeJSON(w, http.StatusOK, out)
}

// delete is RFC 7592 section 2.3.
func (h *Handler) delete(w http.ResponseWriter, r *http.Request) {
	c, ok := h.authorize(w, r)
	if !ok {
		return
	}
	err := h.audited(r, "client_registration_deleted", c.ID, func(ctx context.Context) error { return h.c.Store.DeleteClient(ctx, c.ID) })
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.serverError(w, r, "delete client", err)
		return
	}
	h.c.Clients.ClientChanged(c.ID)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// authorize loads the client the path names and checks the registration
// access token. Every failure looks the same, so that the answer does not
// tell whether the client exists.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) (storage.Client, bool) {
	token, ok := bearer(r)
	if !ok {
		h.unauthorized(w, "This needs the client's registration access token.")
		return storage.Client{}, false
	}
	id, _ := url.PathUnescape(mux.Vars(r)["client_id"]) // the router matches encoded paths
	c, err := h.c.Store.GetClient(r.Context(), id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.serverError(w, r, "load client", err)
		return storage.Client{}, false
	}
	hash := c.RegistrationTokenHash
	if hash == nil {
		// Compare anyway, so that an unknown client takes as long.
		hash = make([]byte, len(h.c.Box.Hash(clients.RegistrationPurpose, nil)))
	}
	if valid := h.c.Box.Verify(clients.RegistrationPurpose, []byte(token), hash); err != nil || !c.SelfRegistered() || !valid {
		h.unauthorized(w, "The registration access token is invalid.")
		return storage.Client{}, false
	}
	return c, true
}

// describe is a registration as RFC 7591 and 7592 answer it: the metadata
// and where to manage it; never a stored secret.
func (h *Handler) describe(c storage.Client) clients.Metadata {
	m := clients.ToMetadata(c)
	m.RegistrationClientURI = h.c.Issuer + Path + "/" + c.ID
	return m
}

// check validates metadata as for every client, then as for a client that
// registers itself. Fields only latch sets are ignored when sent.
func check(m *clients.Metadata, id string) error {
	m.RegistrationAccessToken, m.RegistrationClientURI = "", ""
	m.CreatedAt, m.SecretExpiresAt = 0, nil
	if err := clients.CheckSelfRegistered(*m, id); err != nil {
		return err
	}
	return clients.Validate(m)
}

// decode reads the JSON body. Unknown members are ignored (RFC 7591
// section 2).
func decode(w http.ResponseWriter, r *http.Request) (clients.Metadata, bool) {
	var m clients.Metadata
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		writeError(w, http.StatusBadRequest, "invalid_client_metadata", "The request body must be JSON (Content-Type: application/json).")
		return m, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "invalid_client_metadata", "The request body is too large.")
		return m, false
	}
	if err := json.Unmarshal(body, &m); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_client_metadata", "The request body is not valid client metadata JSON.")
		return m, false
	}
	return m, true
}

// bearer reads an Authorization: Bearer token.
func bearer(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != "" && len(token) < 1024
}

// newToken is a registration access token or an initial access token: 256
// bits from crypto/rand.
func newToken() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// NewInitialAccessToken makes an initial access token: its ID (to list
// and delete it), the token, shown once, and what is stored.
func NewInitialAccessToken(box *secret.Box, maxUses int, ttl time.Duration) (storage.InitialAccessToken, string) {
	token := newToken()
	// The ID never starts with "-", which a command line would take for a
	// flag (latch clients registration-token delete ID).
	var id string
	for id == "" || id[0] == '-' {
		b := make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			panic(err)
		}
		id = base64.RawURLEncoding.EncodeToString(b)
	}
	return storage.InitialAccessToken{
		ID:        id,
		Hash:      box.Hash(clients.RegistrationPurpose, []byte(token)),
		MaxUses:   maxUses,
		ExpiresAt: time.Now().UTC().Add(ttl),
	}, token
}

// audited runs write and records kind in the audit log, in one
// transaction where the store has them.
func (h *Handler) audited(r *http.Request, kind, clientID string, write func(ctx context.Context) error) error {
	return storage.InTx(r.Context(), h.c.Store, func(ctx context.Context) error {
		if err := write(ctx); err != nil {
			return err
		}
		return h.c.Store.AppendAudit(ctx, storage.AuditEvent{At: time.Now().UTC(), Kind: kind, ClientID: clientID,
			IP: web.ClientIP(r), UserAgent: web.UserAgent(r)})
	})
}

func (h *Handler) unauthorized(w http.ResponseWriter, desc string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="`+desc+`"`)
	writeError(w, http.StatusUnauthorized, "invalid_token", desc)
}

func (h *Handler) serverError(w http.ResponseWriter, r *http.Request, what string, err error) {
	h.c.Log.ErrorContext(r.Context(), "client registration: "+what, "err", err)
	writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "Registration is not possible right now; try again shortly.")
}

// writeMetadataError answers RFC 7591 section 3.2.2's errors.
func writeMetadataError(w http.ResponseWriter, err error) {
	code := "invalid_client_metadata"
	if clients.RedirectURIProblem(err) {
		code = "invalid_redirect_uri"
	}
	writeError(w, http.StatusBadRequest, code, strings.ReplaceAll(err.Error(), "\n", "; "))
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// TokenInfo is an initial access token as the CLI and the admin API show
// it; Token only when it was just made.
type TokenInfo struct {
	ID        string `json:"id"`
	Token     string `json:"token,omitempty"`
	MaxUses   int    `json:"max_uses"`
	Uses      int    `json:"uses"`
	CreatedAt int64  `json:"created_at"`
	ExpiresAt int64  `json:"expires_at"`
}

// Describe is t as TokenInfo, without the token.
func Describe(t storage.InitialAccessToken) TokenInfo {
	return TokenInfo{ID: t.ID, MaxUses: t.MaxUses, Uses: t.Uses, CreatedAt: t.CreatedAt.Unix(), ExpiresAt: t.ExpiresAt.Unix()}
}
