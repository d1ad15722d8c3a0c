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
// published before it signs.
func (h *Handler) rotateKeys(c *call) {
	if !h.failed(c, h.opRotateKeys(c)) {
		writeJSON(c.w, http.StatusOK, page[keys.KeyInfo]{Items: h.c.Keys.List()})
	}
}

// opRotateKeys rotates the keys. The key manager writes the keys itself,
// so the audit event follows them rather than sharing their transaction.
func (h *Handler) opRotateKeys(c *call) error {
	created, err := h.c.Keys.Rotate(c.ctx)
	if err != nil {
		return err
	}
	kids := make([]string, 0, len(created))
	for _, k := range created {
		kids = append(kids, k.ID)
	}
	return h.c.Store.AppendAudit(c.ctx, c.event("keys_rotated", map[string]string{"kids": strings.Join(kids, " ")}))
}
