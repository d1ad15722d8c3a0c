package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/latch-idp/latch/registration"
	"github.com/latch-idp/latch/storage"
)

func tokenPos(t storage.InitialAccessToken) position { return position{t.CreatedAt, t.ID} }

func (h *Handler) listTokens(c *call) {
	ts, err := h.c.Store.ListInitialAccessTokens(c.ctx)
	if err != nil {
		h.serverError(c, "list registration tokens", err)
		return
	}
	paged(c, ts, tokenPos, registration.Describe)
}

// newToken is the body of a token's creation.
type newToken struct {
	ExpiresIn string `json:"expires_in"` // a Go duration; default 24h
	MaxUses   *int   `json:"max_uses"`   // default 1; 0: any number
}

func (h *Handler) createToken(c *call) {
	var n newToken
	if !c.decode(&n) {
		return
	}
	ttl, maxUses := 24*time.Hour, 1
	if n.ExpiresIn != "" {
		d, err := time.ParseDuration(n.ExpiresIn)
		if err != nil || d <= 0 || d > 365*24*time.Hour {
			writeError(c.w, http.StatusBadRequest, "invalid_request", "expires_in must be a duration from 1s to 8760h, such as 24h.")
			return
		}
		ttl = d
	}
	if n.MaxUses != nil {
		if *n.MaxUses < 0 {
			writeError(c.w, http.StatusBadRequest, "invalid_request", "max_uses must be 0 (any number) or more.")
			return
		}
		maxUses = *n.MaxUses
	}
	t, token := registration.NewInitialAccessToken(h.c.Box, maxUses, ttl)
	if err := h.c.Store.CreateInitialAccessToken(c.ctx, t, storage.Effects{Audit: []storage.AuditEvent{c.event("initial_access_token_created", map[string]string{"id": t.ID})}}); err != nil {
		h.serverError(c, "create registration token", err)
		return
	}
	v := registration.Describe(t)
	v.Token, v.CreatedAt = token, time.Now().Unix()
	writeJSON(c.w, http.StatusCreated, v)
}

func (h *Handler) deleteToken(c *call) {
	id := c.pathVar("id")
	err := h.c.Store.DeleteInitialAccessToken(c.ctx, id, storage.Effects{Audit: []storage.AuditEvent{c.event("initial_access_token_deleted", map[string]string{"id": id})}})
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "registration token")
		return
	} else if err != nil {
		h.serverError(c, "delete registration token", err)
		return
	}
	c.w.WriteHeader(http.StatusNoContent)
}
