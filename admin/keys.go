package admin

import (
	"context"
	"net/http"
	"strings"

	"github.com/latch-idp/latch/keys"
	"github.com/latch-idp/latch/storage"
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

// opRotateKeys rotates the keys, in one transaction with the audit
// event. The key manager reloads its keyring inside the transaction; after
// it ends the keyring is reloaded again, so that a rolled-back rotation
// leaves no key behind.
func (h *Handler) opRotateKeys(c *call) error {
	var kids []string
	err := h.inTxWith(c, func(ctx context.Context) (storage.AuditEvent, error) {
		created, err := h.c.Keys.Rotate(ctx)
		for _, k := range created {
			kids = append(kids, k.ID)
		}
		return c.event("keys_rotated", map[string]string{"kids": strings.Join(kids, " ")}), err
	})
	if rerr := h.c.Keys.Reload(c.ctx); err == nil {
		err = rerr
	}
	return err
}
