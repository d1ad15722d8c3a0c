package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/latch-idp/latch/clients"
	"github.com/latch-idp/latch/storage"
)

func clientPos(c storage.Client) position { return position{c.CreatedAt, c.ID} }

func (h *Handler) listClients(c *call) {
	cs, err := h.c.Store.ListClients(c.ctx)
	if err != nil {
		h.serverError(c, "list clients", err)
		return
	}
	paged(c, cs, clientPos, clients.ToMetadata)
}

// withSecret is a client's metadata with its new secret, shown once.
func withSecret(cl storage.Client, sec string) clients.Metadata {
	m := clients.ToMetadata(cl)
	if sec != "" {
		zero := int64(0)
		m.ClientSecret, m.SecretExpiresAt = sec, &zero
	}
	return m
}

func (h *Handler) createClient(c *call) {
	var m clients.Metadata
	if !c.decode(&m) {
		return
	}
	cl, sec, err := h.opCreateClient(c, m)
	if h.failed(c, err) {
		return
	}
	c.w.Header().Set("Location", Path+"/clients/"+cl.ID)
	c.item(http.StatusCreated, withSecret(cl, sec))
}

// opCreateClient registers a client from metadata, with its audit event.
func (h *Handler) opCreateClient(c *call, m clients.Metadata) (storage.Client, string, error) {
	cl, sec, err := clients.New(m, h.c.Box)
	if err != nil {
		return cl, "", refused(http.StatusBadRequest, "invalid_client_metadata", err.Error())
	}
	e := c.event("client_created", nil)
	e.ClientID = cl.ID
	err = h.inTx(c, e, func(ctx context.Context) error { return h.c.Store.CreateClient(ctx, cl) })
	if errors.Is(err, storage.ErrAlreadyExists) {
		return cl, "", refused(http.StatusConflict, "conflict", "A client with this client_id exists already.")
	}
	return cl, sec, err
}

// loadClient answers 404 itself.
func (h *Handler) loadClient(c *call) (storage.Client, bool) {
	cl, err := h.c.Store.GetClient(c.ctx, c.pathVar("id"))
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "client")
		return cl, false
	} else if err != nil {
		h.serverError(c, "load client", err)
		return cl, false
	}
	return cl, true
}

func (h *Handler) getClient(c *call) {
	if cl, ok := h.loadClient(c); ok {
		c.item(http.StatusOK, clients.ToMetadata(cl))
	}
}

// updateClient replaces the client's metadata. Its secret stays; a client
// that turns confidential gets one, shown once.
func (h *Handler) updateClient(c *call) {
	old, ok := h.loadClient(c)
	if !ok || !c.matches(clients.ToMetadata(old)) {
		return
	}
	var m clients.Metadata
	if !c.decode(&m) {
		return
	}
	if m.ClientID != "" && m.ClientID != old.ID {
		writeError(c.w, http.StatusBadRequest, "invalid_client_metadata", "client_id: cannot be changed.")
		return
	}
	m.ClientID = old.ID
	cl, sec, err := clients.New(m, h.c.Box)
	if err != nil {
		writeError(c.w, http.StatusBadRequest, "invalid_client_metadata", err.Error())
		return
	}
	cl.CreatedAt, cl.RegistrationTokenHash = old.CreatedAt, old.RegistrationTokenHash
	if old.SecretHash != nil && cl.SecretHash != nil {
		cl.SecretHash, sec = old.SecretHash, ""
	}
	if !h.failed(c, h.writeClient(c, "client_updated", cl)) {
		c.item(http.StatusOK, withSecret(cl, sec))
	}
}

func (h *Handler) rotateClientSecret(c *call) {
	cl, ok := h.loadClient(c)
	if !ok {
		return
	}
	cl, sec, err := h.opRotateSecret(c, cl)
	if !h.failed(c, err) {
		c.item(http.StatusOK, withSecret(cl, sec))
	}
}

// opRotateSecret gives cl a new secret, returned once.
func (h *Handler) opRotateSecret(c *call, cl storage.Client) (storage.Client, string, error) {
	if cl.SecretHash == nil {
		return cl, "", refused(http.StatusBadRequest, "invalid_request", "This client authenticates without a secret.")
	}
	var sec string
	sec, cl.SecretHash = clients.NewSecret(h.c.Box)
	return cl, sec, h.writeClient(c, "client_secret_rotated", cl)
}

// writeClient stores cl with its audit event and drops it from the
// caches.
func (h *Handler) writeClient(c *call, kind string, cl storage.Client) error {
	e := c.event(kind, nil)
	e.ClientID = cl.ID
	err := h.inTx(c, e, func(ctx context.Context) error { return h.c.Store.UpdateClient(ctx, cl) })
	if errors.Is(err, storage.ErrNotFound) {
		return refused(http.StatusNotFound, "not_found", "There is no such client.")
	} else if err != nil {
		return err
	}
	h.c.Caches.ClientChanged(cl.ID)
	return nil
}

func (h *Handler) deleteClient(c *call) {
	if !h.failed(c, h.opDeleteClient(c, c.pathVar("id"))) {
		c.w.WriteHeader(http.StatusNoContent)
	}
}

// opDeleteClient deletes a client with its consents and tokens.
func (h *Handler) opDeleteClient(c *call, id string) error {
	e := c.event("client_deleted", nil)
	e.ClientID = id
	err := h.inTx(c, e, func(ctx context.Context) error { return h.c.Store.DeleteClient(ctx, id) })
	if errors.Is(err, storage.ErrNotFound) {
		return refused(http.StatusNotFound, "not_found", "There is no such client.")
	} else if err != nil {
		return err
	}
	h.c.Caches.ClientChanged(id)
	return nil
}
