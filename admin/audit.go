package admin

import (
	"net/http"
	"strconv"
	"time"

	"github.com/latch-idp/latch/storage"
)

// auditView is an audit event as the admin API shows it.
type auditView struct {
	ID        int64             `json:"id"`
	At        string            `json:"at"` // RFC 3339
	Type      string            `json:"type"`
	UserID    string            `json:"user_id,omitempty"`
	ClientID  string            `json:"client_id,omitempty"`
	IP        string            `json:"ip,omitempty"`
	UserAgent string            `json:"user_agent,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
}

// listAudit pages the audit log, newest first, filtered by ?type=,
// ?user=, ?client=, ?since= and ?until= (RFC 3339 times); the cursor is
// the last event's ID.
func (h *Handler) listAudit(c *call) {
	q := c.r.URL.Query()
	limit, ok := c.limit()
	if !ok {
		return
	}
	aq := storage.AuditQuery{Kind: q.Get("type"), UserID: q.Get("user"), ClientID: q.Get("client"), Limit: limit + 1}
	for name, dst := range map[string]*time.Time{"since": &aq.Since, "until": &aq.Until} {
		if v := q.Get(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(c.w, http.StatusBadRequest, "invalid_request", name+" must be an RFC 3339 time such as 2026-12-03T08:00:00Z.")
				return
			}
			*dst = t
		}
	}
	if v := q.Get("cursor"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 1 {
			writeError(c.w, http.StatusBadRequest, "invalid_request", "The cursor is not one this API gave out.")
			return
		}
		aq.BeforeID = id
	}
	es, err := h.c.Store.QueryAudit(c.ctx, aq)
	if err != nil {
		h.serverError(c, "query audit", err)
		return
	}
	out := page[auditView]{Items: []auditView{}}
	for i, e := range es {
		if i == limit {
			out.NextCursor = strconv.FormatInt(es[i-1].ID, 10)
			break
		}
		out.Items = append(out.Items, viewEvent(e))
	}
	writeJSON(c.w, http.StatusOK, out)
}

func viewEvent(e storage.AuditEvent) auditView {
	return auditView{ID: e.ID, At: e.At.Format(time.RFC3339Nano), Type: e.Kind, UserID: e.UserID,
		ClientID: e.ClientID, IP: e.IP, UserAgent: e.UserAgent, Detail: e.Detail}
}
