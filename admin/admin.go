package admin

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/rs"
	"github.com/latch-idp/latch/secret"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web"
)

// Path is the prefix of the admin API; with the issuer in front it is the
// admin API's resource identifier, the audience of its tokens.
const Path = "/admin"

// Store is what the admin API reads and writes directly; account rules go
// through the accounts service.
type Store interface {
	storage.Transactor

	CreateClient(ctx context.Context, c storage.Client) error
	GetClient(ctx context.Context, id string) (storage.Client, error)
	ListClients(ctx context.Context) ([]storage.Client, error)
	UpdateClient(ctx context.Context, c storage.Client) error
	DeleteClient(ctx context.Context, id string) error

	CreateResource(ctx context.Context, r storage.Resource, fx storage.Effects) error
	GetResource(ctx context.Context, id string) (storage.Resource, error)
	ListResources(ctx context.Context) ([]storage.Resource, error)
	UpdateResource(ctx context.Context, r storage.Resource, fx storage.Effects) error
	DeleteResource(ctx context.Context, id string, fx storage.Effects) error

	GetUser(ctx context.Context, id string) (storage.User, error)
	ListUsers(ctx context.Context) ([]storage.User, error)
	ListConsents(ctx context.Context, userID string) ([]storage.Consent, error)
	CountBackupCodes(ctx context.Context, userID string) (int, error)
	ListPasskeys(ctx context.Context, userID string) ([]storage.Passkey, error)

	CreateInitialAccessToken(ctx context.Context, t storage.InitialAccessToken, fx storage.Effects) error
	ListInitialAccessTokens(ctx context.Context) ([]storage.InitialAccessToken, error)
	DeleteInitialAccessToken(ctx context.Context, id string, fx storage.Effects) error

	AppendAudit(ctx context.Context, e storage.AuditEvent) error
	QueryAudit(ctx context.Context, q storage.AuditQuery) ([]storage.AuditEvent, error)
}

var _ Store = storage.Store(nil)

// Keys is what the admin API needs of the signing keys (package keys'
// Manager).
type Keys interface {
	JWKS() []byte
	List() []keys.KeyInfo
	Rotate(ctx context.Context) ([]storage.SigningKey, error)
	Reload(ctx context.Context) error
}

// Caches are told of changes, so that they drop what they hold at once
// (provider's client and resource caches).
type Caches interface {
	ClientChanged(id string)
	ResourcesChanged()
}

// Config configures the admin API.
type Config struct {
	Issuer   string
	Store    Store
	Accounts *accounts.Service
	Keys     Keys
	Box      *secret.Box
	Caches   Caches
	Log      *slog.Logger
	// Site and Sessions serve the console's pages; without them only the
	// API is mounted.
	Site     *web.Site
	Sessions *session.Store
}

// Handler serves the admin API.
type Handler struct {
	c        Config
	verifier *rs.Verifier
	openapi  []byte
	pages    *web.Pages // the console's
}

// New builds the admin API; its tokens are verified in process against
// the keys latch publishes.
func New(ctx context.Context, c Config) (*Handler, error) {
	c.Issuer = strings.TrimRight(c.Issuer, "/")
	issuer, err := url.Parse(c.Issuer)
	if err != nil {
		return nil, fmt.Errorf("admin: issuer: %w", err)
	}
	v, err := rs.New(ctx, rs.Config{
		Issuer: c.Issuer,
		// DPoP proofs name the URL clients address, which is the
		// issuer's, whatever Host a proxy forwards.
		PublicOrigin:       issuer.Scheme + "://" + issuer.Host,
		Audience:           APIURL(c.Issuer),
		Name:               resources.Admin(APIURL(c.Issuer)).Name,
		Scopes:             []string{resources.AdminScope},
		Realm:              "latch admin",
		MinRefetchInterval: time.Second,
		JWKS:               func(context.Context) ([]byte, error) { return c.Keys.JWKS(), nil },
	})
	if err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	h := &Handler{c: c, verifier: v}
	if c.Site != nil {
		if h.pages, err = c.Site.Pages("admin", consoleTemplates, pageHome, pageClients, pageClient, pageResources, pageUsers, pageUser, pageKeys, pageAudit); err != nil {
			return nil, err
		}
	}
	if h.openapi, err = json.Marshal(h.openAPI()); err != nil {
		return nil, fmt.Errorf("admin: OpenAPI document: %w", err)
	}
	return h, nil
}

// APIURL is the admin API's URL for issuer: its resource identifier.
func APIURL(issuer string) string { return strings.TrimRight(issuer, "/") + Path }

// Mount adds the admin API's routes.
func (h *Handler) Mount(r *mux.Router) {
	r.HandleFunc(Path+"/openapi.json", h.serveOpenAPI).Methods(http.MethodGet, http.MethodHead)
	r.Handle(h.verifier.MetadataPath(), h.verifier.MetadataHandler()).Methods(http.MethodGet, http.MethodHead)
	guard := h.verifier.RequireScope(resources.AdminScope)
	for _, rt := range h.routes() {
		r.Handle(Path+rt.path, guard(h.actorFor(rt.handle))).Methods(rt.method)
	}
	h.mountConsole(r)
}

// call is one admin API request: who makes it, and the request.
type call struct {
	w     http.ResponseWriter
	r     *http.Request
	ctx   context.Context
	actor accounts.Actor
}

// actorFor admits the token's user or client as it is now, then runs
// handle. A user must still be an active administrator: a token does not
// outlive a revocation of rights. A client must still exist.
func (h *Handler) actorFor(handle func(*call)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		claims, _ := rs.ClaimsFrom(ctx)
		c := &call{w: w, r: r, ctx: ctx, actor: accounts.Actor{IP: web.ClientIP(r), UserAgent: web.UserAgent(r)}}
		switch {
		case claims.IsUser():
			u, err := h.c.Store.GetUser(ctx, claims.Subject)
			if errors.Is(err, storage.ErrNotFound) || (err == nil && (u.Disabled || u.Role != storage.RoleAdmin)) {
				writeError(w, http.StatusForbidden, "forbidden", "This needs an active administrator.")
				return
			} else if err != nil {
				h.serverError(c, "load the acting user", err)
				return
			}
			c.actor.By = "user:" + u.ID
		case claims.IsClient():
			if _, err := h.c.Store.GetClient(ctx, claims.ClientID); errors.Is(err, storage.ErrNotFound) {
				writeError(w, http.StatusForbidden, "forbidden", "The client of this token no longer exists.")
				return
			} else if err != nil {
				h.serverError(c, "load the acting client", err)
				return
			}
			c.actor.By = "client:" + claims.ClientID
		default:
			writeError(w, http.StatusForbidden, "forbidden", "This needs a user's or a client's token.")
			return
		}
		handle(c)
	})
}

// inTx runs write in a transaction (where the store has them) with the
// audit event e, so that the change and its record go together.
func (h *Handler) inTx(c *call, e storage.AuditEvent, write func(ctx context.Context) error) error {
	return h.inTxWith(c, func(ctx context.Context) (storage.AuditEvent, error) { return e, write(ctx) })
}

// inTxWith is inTx for a write whose audit event depends on what it did.
func (h *Handler) inTxWith(c *call, write func(ctx context.Context) (storage.AuditEvent, error)) error {
	return storage.InTx(c.ctx, h.c.Store, func(ctx context.Context) error {
		e, err := write(ctx)
		if err != nil {
			return err
		}
		return h.c.Store.AppendAudit(ctx, e)
	})
}

// event is an audit event of kind by the call's actor.
func (c *call) event(kind string, detail map[string]string) storage.AuditEvent {
	d := map[string]string{"by": c.actor.By}
	for k, v := range detail {
		d[k] = v
	}
	return storage.AuditEvent{At: time.Now().UTC(), Kind: kind, IP: c.actor.IP, UserAgent: c.actor.UserAgent, Detail: d}
}

// pathVar is a path variable, percent-decoded (the router matches encoded
// paths, so that a resource identifier can be one segment).
func (c *call) pathVar(name string) string {
	v, err := url.PathUnescape(mux.Vars(c.r)[name])
	if err != nil {
		return ""
	}
	return v
}

// maxBody bounds a request body.
const maxBody = 256 << 10

// decode reads a JSON body into v; unknown fields are an error, so that a
// typo is not silently ignored. It answers the error itself.
func (c *call) decode(v any) bool {
	if ct := c.r.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		writeError(c.w, http.StatusUnsupportedMediaType, "invalid_request", "Send JSON (Content-Type: application/json).")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(c.w, c.r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(c.w, http.StatusRequestEntityTooLarge, "invalid_request", "The request body is too large.")
			return false
		}
		writeError(c.w, http.StatusBadRequest, "invalid_request", "The request body is not valid JSON for this call: "+jsonProblem(err))
		return false
	}
	if dec.Decode(&struct{}{}) != io.EOF {
		writeError(c.w, http.StatusBadRequest, "invalid_request", "The request body holds more than one JSON value.")
		return false
	}
	return true
}

// jsonProblem says what is wrong with a body without echoing it.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return fmt.Sprintf("%s has the wrong type.", typeErr.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ") + "."
	}
	return "malformed JSON."
}

// etag is a strong entity tag of v's JSON form.
func etag(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
}

// matches checks If-Match against the current representation: an update
// without one is refused (428), one against another version too (412).
func (c *call) matches(current any) bool {
	want := c.r.Header.Get("If-Match")
	switch {
	case want == "":
		writeError(c.w, http.StatusPreconditionRequired, "precondition_required", "Send If-Match with the ETag of the version you read.")
		return false
	case want != "*" && want != etag(current):
		writeError(c.w, http.StatusPreconditionFailed, "precondition_failed", "It was changed since you read it; read it again.")
		return false
	}
	return true
}

// item answers one resource with its ETag.
func (c *call) item(status int, v any) {
	c.w.Header().Set("ETag", etag(v))
	writeJSON(c.w, status, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// apiError is the one shape of every error the admin API answers.
type apiError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func writeError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, apiError{Error: code, Description: desc})
}

// refusal is an operation refused for a reason its caller is told: the
// API answers it as JSON, the console on the page.
type refusal struct {
	status      int
	code, About string
}

func (r *refusal) Error() string { return r.About }

func refused(status int, code, about string) error {
	return &refusal{status: status, code: code, About: about}
}

// failed answers err, when there is one, as the API does: a refusal as
// itself, anything else as a server error.
func (h *Handler) failed(c *call, err error) bool {
	var ref *refusal
	switch {
	case err == nil:
		return false
	case errors.As(err, &ref):
		writeError(c.w, ref.status, ref.code, ref.About)
	default:
		h.serverError(c, "admin operation", err)
	}
	return true
}

func notFound(c *call, what string) {
	writeError(c.w, http.StatusNotFound, "not_found", "There is no such "+what+".")
}

func (h *Handler) serverError(c *call, what string, err error) {
	h.c.Log.ErrorContext(c.ctx, "admin API: "+what, "err", err)
	writeError(c.w, http.StatusServiceUnavailable, "temporarily_unavailable", "This cannot be done right now; try again shortly.")
}

func (h *Handler) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(h.openapi)
}
