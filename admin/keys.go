package admin

import (
	"net/http"
	"strings"

	"github.com/latch-idp/latch/keys"
)

func (h *Handler) listKeys(c *call) {
	writeJSON(c.w, http.StatusOK, page[keys.KeyInfo]{Items: h.c.Keys.List()})
}

// rotateKeys makes a new signing key of each algorithm now; each is
// published before it signs. The key manager writes the keys itself, so
// the audit event follows them rather than sharing their transaction.
func (h *Handler) rotateKeys(c *call) {
	created, err := h.c.Keys.Rotate(c.ctx)
	if err != nil {
		h.serverError(c, "rotate keys", err)
		return
	}
	kids := make([]string, 0, len(created))
	for _, k := range created {
		kids = append(kids, k.ID)
	}
	if err := h.c.Store.AppendAudit(c.ctx, c.event("keys_rotated", map[string]string{"kids": strings.Join(kids, " ")})); err != nil {
		h.serverError(c, "record key rotation", err)
		return
	}
	writeJSON(c.w, http.StatusOK, page[keys.KeyInfo]{Items: h.c.Keys.List()})
}
