package login

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/latch-idp/latch/storage"
)

// pendingTTL bounds how long the steps after the password may take.
const pendingTTL = 10 * time.Minute

// errNoPending means the browser has no sign-in in progress (or it expired).
var errNoPending = errors.New("login: no sign-in in progress")

// pending is a sign-in whose password was right but which still needs a
// code or a new password. It lives in Redis under the hash of a random
// token the browser holds in a cookie, so it cannot be moved to another
// browser, and it is taken with GETDEL when the sign-in completes.
type pending struct {
	UserID   string   `json:"user_id"`
	FlowID   string   `json:"flow_id,omitempty"`
	ReturnTo string   `json:"return_to,omitempty"`
	AMR      []string `json:"amr"`
	// NeedCode: a second step is due (a passkey, a TOTP or a backup code).
	NeedCode bool `json:"need_code"`
	// ACR is the class the sign-in must reach (passkey.Satisfies): the
	// app asked for a passkey.
	ACR string `json:"acr,omitempty"`
	// MustChange, when set, is why the user must choose a new password.
	MustChange string `json:"must_change,omitempty"`
	// Password binds the sign-in to the password it was begun with (see
	// passwordBinding): once the password changes, by a reset or on the
	// account page, the steps after it stop.
	Password []byte `json:"pw"`
}

const bindingPurpose = "latch login pending password v1"

// passwordBinding is the keyed hash of a stored password hash that a
// pending sign-in keeps: it tells whether the password changed without
// putting anything a guesser could use in Redis.
func (h *Handler) passwordBinding(phc string) []byte {
	return h.c.Box.Hash(bindingPurpose, []byte(phc))
}

// goesOn reports whether p may still go on for u: u is enabled and its
// password is the one p was begun with.
func (h *Handler) goesOn(p *pending, u storage.User) bool {
	return !u.Disabled && h.c.Box.Verify(bindingPurpose, []byte(u.PasswordHash), p.Password)
}

// loadPendingUser returns the request's pending sign-in and its user while
// the sign-in may go on. Otherwise it writes the answer itself (ending a
// pending sign-in whose user was disabled, deleted or changed password
// since the password step) and returns ok=false.
func (h *Handler) loadPendingUser(w http.ResponseWriter, r *http.Request) (*pending, storage.User, bool) {
	ctx := r.Context()
	p, err := h.loadPending(ctx, r)
	if errors.Is(err, errNoPending) {
		h.pendingExpired(w, r)
		return nil, storage.User{}, false
	} else if err != nil {
		h.internalError(w, r, "load pending sign-in", err)
		return nil, storage.User{}, false
	}
	u, err := h.c.Store.GetUser(ctx, p.UserID)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		h.internalError(w, r, "load user", err)
		return nil, storage.User{}, false
	}
	if err != nil || !h.goesOn(p, u) {
		if _, err := h.takePending(ctx, w, r); err != nil && !errors.Is(err, errNoPending) {
			h.c.Log.WarnContext(ctx, "login: end stale pending sign-in", "err", err)
		}
		h.pendingExpired(w, r)
		return nil, storage.User{}, false
	}
	return p, u, true
}

func (h *Handler) pendingCookieName() string {
	if h.c.Site.Secure() {
		return "__Host-latch_login"
	}
	return "latch_login"
}

func pendingKey(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "latch:login:pending:" + hex.EncodeToString(sum[:])
}

// startPending stores p under a fresh token and sets the cookie.
func (h *Handler) startPending(ctx context.Context, w http.ResponseWriter, p *pending) error {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return err
	}
	token := base64.RawURLEncoding.EncodeToString(b)
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := h.c.Redis.Set(ctx, pendingKey(token), data, pendingTTL).Err(); err != nil {
		return fmt.Errorf("store pending sign-in: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name: h.pendingCookieName(), Value: token, Path: "/", MaxAge: int(pendingTTL.Seconds()),
		HttpOnly: true, Secure: h.c.Site.Secure(), SameSite: http.SameSiteLaxMode,
	})
	return nil
}

func (h *Handler) pendingToken(r *http.Request) string {
	c, err := r.Cookie(h.pendingCookieName())
	if err != nil {
		return ""
	}
	return c.Value
}

// loadPending returns the request's pending sign-in.
func (h *Handler) loadPending(ctx context.Context, r *http.Request) (*pending, error) {
	token := h.pendingToken(r)
	if token == "" {
		return nil, errNoPending
	}
	data, err := h.c.Redis.Get(ctx, pendingKey(token)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, errNoPending
	} else if err != nil {
		return nil, err
	}
	return decodePending(data)
}

// updatePending saves a changed pending sign-in, keeping its expiry.
func (h *Handler) updatePending(ctx context.Context, r *http.Request, p *pending) error {
	data, err := json.Marshal(p)
	if err != nil {
		return err
	}
	res, err := h.c.Redis.SetArgs(ctx, pendingKey(h.pendingToken(r)), data, redis.SetArgs{Mode: "XX", KeepTTL: true}).Result()
	if errors.Is(err, redis.Nil) || (err == nil && res != "OK") {
		return errNoPending
	}
	return err
}

// takePending removes the pending sign-in and returns it: of two racing
// requests only one completes the sign-in.
func (h *Handler) takePending(ctx context.Context, w http.ResponseWriter, r *http.Request) (*pending, error) {
	token := h.pendingToken(r)
	if token == "" {
		return nil, errNoPending
	}
	h.clearPendingCookie(w)
	data, err := h.c.Redis.GetDel(ctx, pendingKey(token)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, errNoPending
	} else if err != nil {
		return nil, err
	}
	return decodePending(data)
}

func (h *Handler) clearPendingCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: h.pendingCookieName(), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: h.c.Site.Secure(), SameSite: http.SameSiteLaxMode,
	})
}

func decodePending(data []byte) (*pending, error) {
	var p pending
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("decode pending sign-in: %w", err)
	}
	return &p, nil
}
