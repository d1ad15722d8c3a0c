package login

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/latch-idp/latch/flow"
)

// A sign-in may take a side trip through the mailbox: a forgotten
// password, a new account, an address to confirm. The sign-in it left
// (an application's flow, or a return path on latch) is kept in a sealed
// cookie of the browser that left it, so the link from the email, opened
// in that browser, ends on the sign-in page of the same flow and the user
// goes on to the application. The email itself never carries the flow:
// opened in another browser, its link ends on a plain sign-in page.

// sideTripTTL is how long a side trip may take: as long as a flow lives.
const sideTripTTL = 30 * time.Minute

// sideTrip is the sign-in a side trip left.
type sideTrip struct {
	FlowID   string    `json:"f,omitempty"`
	ReturnTo string    `json:"r,omitempty"`
	Expires  time.Time `json:"e"`
}

var sideTripAD = []byte("latch login side-trip v1")

func (h *Handler) sideTripCookieName() string {
	if h.c.Site.Secure() {
		return "__Host-latch_return"
	}
	return "latch_return"
}

// leave remembers, in this browser, the sign-in a side trip leaves. A
// sign-in with nothing to go back to (no flow, the account page) leaves
// nothing behind.
func (h *Handler) leave(w http.ResponseWriter, flowID, ret string) {
	ret = h.returnTo(ret)
	if flowID == "" && ret == h.c.Home {
		return
	}
	v := sideTrip{FlowID: flowID, ReturnTo: ret, Expires: time.Now().Add(sideTripTTL)}
	http.SetCookie(w, &http.Cookie{
		Name: h.sideTripCookieName(), Value: h.c.Box.SealString(v, sideTripAD), Path: "/",
		MaxAge: int(sideTripTTL.Seconds()), HttpOnly: true, Secure: h.c.Site.Secure(), SameSite: http.SameSiteLaxMode,
	})
}

// backFrom returns the sign-in page a side trip comes back to, telling it
// what was done (a key of notices): the flow this browser left while it
// still waits for a sign-in, else the return path, else the plain sign-in
// page. The trip ends here.
func (h *Handler) backFrom(w http.ResponseWriter, r *http.Request, done string) string {
	var v sideTrip
	if c, err := r.Cookie(h.sideTripCookieName()); err == nil {
		if !h.c.Box.OpenString(c.Value, sideTripAD, &v) || time.Now().After(v.Expires) {
			v = sideTrip{}
		}
		http.SetCookie(w, &http.Cookie{
			Name: h.sideTripCookieName(), Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, Secure: h.c.Site.Secure(), SameSite: http.SameSiteLaxMode,
		})
	}
	if v.FlowID != "" {
		if _, err := h.c.Flows.Get(r.Context(), v.FlowID, flow.StageLogin); err != nil {
			if !errors.Is(err, flow.ErrNotFound) {
				h.c.Log.WarnContext(r.Context(), "login: load flow after a side trip", "err", err)
			}
			v.FlowID = ""
		}
	}
	return h.signInURL(v.FlowID, h.returnTo(v.ReturnTo), done)
}

// signInURL is the sign-in page of a flow or return path, telling it what
// was done (a key of notices, or "").
func (h *Handler) signInURL(flowID, ret, done string) string {
	q := url.Values{}
	if flowID != "" {
		q.Set("flow", flowID)
	} else if ret != "" && ret != h.c.Home {
		q.Set("return_to", ret)
	}
	if done != "" {
		q.Set("done", done)
	}
	if len(q) == 0 {
		return PathLogin
	}
	return PathLogin + "?" + q.Encode()
}

// trip is the sign-in a page of a side trip (the forgotten-password and
// registration pages) carries: in its forms (Fields), its links (Query)
// and its way back (Back).
type trip struct {
	FlowID   string
	ReturnTo string // "" when the sign-in lands on the default page
	Back     string // the sign-in page to go back to
}

// trip is the side trip of a flow or a return path.
func (h *Handler) trip(flowID, ret string) trip {
	if ret = h.returnTo(ret); flowID != "" || ret == h.c.Home {
		ret = ""
	}
	return trip{FlowID: flowID, ReturnTo: ret, Back: h.loginURL(flowID, ret)}
}

// Fields are the hidden fields that carry t in a form.
func (t trip) Fields() map[string]string {
	switch {
	case t.FlowID != "":
		return map[string]string{"flow": t.FlowID}
	case t.ReturnTo != "":
		return map[string]string{"return_to": t.ReturnTo}
	}
	return nil
}

// Query is the query string ("?…", or "") that carries t in a link.
func (t trip) Query() string {
	q := url.Values{}
	for k, v := range t.Fields() {
		q.Set(k, v)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}
