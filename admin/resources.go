package admin

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/latch-idp/latch/resources"
	"github.com/latch-idp/latch/storage"
)

// API resources are addressed by their identifier, percent-encoded as one
// path segment: /admin/resources/https%3A%2F%2Fapi.example.com.

func resourcePos(r storage.Resource) position { return position{r.CreatedAt, r.ID} }

func (h *Handler) listResources(c *call) {
	rs, err := h.c.Store.ListResources(c.ctx)
	if err != nil {
		h.serverError(c, "list resources", err)
		return
	}
	paged(c, rs, resourcePos, resources.ToMetadata)
}

// checkResource validates m, and that it is not latch's own admin API.
func (h *Handler) checkResource(m resources.Metadata) (storage.Resource, error) {
	r, err := resources.New(m)
	if err == nil && r.ID == APIURL(h.c.Issuer) {
		err = errors.New("resource: is latch's own admin API")
	}
	if err != nil {
		return r, refused(http.StatusBadRequest, "invalid_resource", err.Error())
	}
	return r, nil
}

func (h *Handler) createResource(c *call) {
	var m resources.Metadata
	if !c.decode(&m) {
		return
	}
	r, err := h.opCreateResource(c, m)
	if !h.failed(c, err) {
		h.answerResource(c, http.StatusCreated, r.ID)
	}
}

// opCreateResource registers an API resource, with its audit event.
func (h *Handler) opCreateResource(c *call, m resources.Metadata) (storage.Resource, error) {
	r, err := h.checkResource(m)
	if err != nil {
		return r, err
	}
	err = h.c.Store.CreateResource(c.ctx, r, storage.Effects{Audit: []storage.AuditEvent{c.event("resource_created", map[string]string{"resource": r.ID})}})
	if errors.Is(err, storage.ErrAlreadyExists) {
		return r, refused(http.StatusConflict, "conflict", "The resource exists already, or another resource owns one of its scopes.")
	} else if err != nil {
		return r, err
	}
	h.c.Caches.ResourcesChanged()
	return r, nil
}

// answerResource reads the resource back (the store stamps its times).
func (h *Handler) answerResource(c *call, status int, id string) {
	r, ok := h.loadResource(c, id)
	if !ok {
		return
	}
	if status == http.StatusCreated {
		c.w.Header().Set("Location", Path+"/resources/"+url.PathEscape(id))
	}
	c.item(status, resources.ToMetadata(r))
}

func (h *Handler) loadResource(c *call, id string) (storage.Resource, bool) {
	r, err := h.c.Store.GetResource(c.ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		notFound(c, "resource")
		return r, false
	} else if err != nil {
		h.serverError(c, "load resource", err)
		return r, false
	}
	return r, true
}

func (h *Handler) getResource(c *call) { h.answerResource(c, http.StatusOK, c.pathVar("id")) }

func (h *Handler) updateResource(c *call) {
	old, ok := h.loadResource(c, c.pathVar("id"))
	if !ok || !c.matches(resources.ToMetadata(old)) {
		return
	}
	var m resources.Metadata
	if !c.decode(&m) {
		return
	}
	if m.Resource == "" {
		m.Resource = old.ID
	}
	if m.Resource != old.ID {
		writeError(c.w, http.StatusBadRequest, "invalid_resource", "resource: the identifier cannot be changed.")
		return
	}
	r, err := h.checkResource(m)
	if h.failed(c, err) {
		return
	}
	err = h.c.Store.UpdateResource(c.ctx, r, storage.Effects{Audit: []storage.AuditEvent{c.event("resource_updated", map[string]string{"resource": r.ID})}})
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		writeError(c.w, http.StatusConflict, "conflict", "Another resource owns one of these scopes.")
		return
	case errors.Is(err, storage.ErrNotFound):
		notFound(c, "resource")
		return
	case err != nil:
		h.serverError(c, "update resource", err)
		return
	}
	h.c.Caches.ResourcesChanged()
	h.answerResource(c, http.StatusOK, r.ID)
}

func (h *Handler) deleteResource(c *call) {
	if !h.failed(c, h.opDeleteResource(c, c.pathVar("id"))) {
		c.w.WriteHeader(http.StatusNoContent)
	}
}

// opDeleteResource deletes an API resource, with its audit event.
func (h *Handler) opDeleteResource(c *call, id string) error {
	err := h.c.Store.DeleteResource(c.ctx, id, storage.Effects{Audit: []storage.AuditEvent{c.event("resource_deleted", map[string]string{"resource": id})}})
	if errors.Is(err, storage.ErrNotFound) {
		return refused(http.StatusNotFound, "not_found", "There is no such resource.")
	} else if err != nil {
		return err
	}
	h.c.Caches.ResourcesChanged()
	return nil
}
