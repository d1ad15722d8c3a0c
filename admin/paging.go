package admin

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Lists are paged by cursor: a page holds at most limit items, and
// next_cursor, when there are more, fetches the items after the last one.
// A cursor names a position (creation time and ID), not an offset, so
// that items created or deleted meanwhile neither repeat nor go missing.

const (
	defaultLimit = 50
	maxLimit     = 200
)

// page is a list answer.
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// limit reads ?limit=, answering a bad one itself.
func (c *call) limit() (int, bool) {
	v := c.r.URL.Query().Get("limit")
	if v == "" {
		return defaultLimit, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxLimit {
		writeError(c.w, http.StatusBadRequest, "invalid_request", "limit must be a number from 1 to 200.")
		return 0, false
	}
	return n, true
}

// position is where an item sorts: oldest first, the ID breaking ties.
type position struct {
	at time.Time
	id string
}

func (p position) after(q position) bool {
	return p.at.After(q.at) || (p.at.Equal(q.at) && p.id > q.id)
}

func (p position) cursor() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(p.at.UnixNano(), 10) + " " + p.id))
}

func parseCursor(s string) (position, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return position{}, false
	}
	ns, id, ok := strings.Cut(string(b), " ")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil {
		return position{}, false
	}
	return position{at: time.Unix(0, n).UTC(), id: id}, true
}

// paged answers one page of items, which are sorted oldest first; view
// turns an item into what the API shows.
func paged[S, T any](c *call, items []S, pos func(S) position, view func(S) T) {
	limit, ok := c.limit()
	if !ok {
		return
	}
	start := 0
	if cur := c.r.URL.Query().Get("cursor"); cur != "" {
		from, ok := parseCursor(cur)
		if !ok {
			writeError(c.w, http.StatusBadRequest, "invalid_request", "The cursor is not one this API gave out.")
			return
		}
		for start < len(items) && !pos(items[start]).after(from) {
			start++
		}
	}
	end := min(start+limit, len(items))
	out := page[T]{Items: make([]T, 0, end-start)}
	for _, it := range items[start:end] {
		out.Items = append(out.Items, view(it))
	}
	if end < len(items) {
		out.NextCursor = pos(items[end-1]).cursor()
	}
	writeJSON(c.w, http.StatusOK, out)
}
