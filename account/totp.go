package account

import (
	"bytes"
	"encoding/base64"
	"errors"
	"html/template"
	"image/png"
	"net/http"
	"strings"
	"time"

	"github.com/pquerna/otp"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/login"
	"github.com/latch-idp/latch/mfa"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/web"
)

// enrollTTL bounds how long a TOTP set-up may wait for its confirming code.
const enrollTTL = 15 * time.Minute

// enrollment is the pending TOTP set-up. It travels in a hidden field,
// sealed with the system secret and bound to the user and the browser
// session that re-authenticated to start it, so the secret is never
// readable outside this page and cannot be confirmed by anyone else.
type enrollment struct {
	Secret  string    `json:"s"`
	URL     string    `json:"u"`
	Expires time.Time `json:"e"`
}

func enrollAD(sess *session.Session) []byte {
	return []byte("latch totp-enroll v2\x00" + sess.UserID + "\x00" + sess.ID)
}

func (h *Handler) sealEnrollment(sess *session.Session, e enrollment) string {
	return h.c.Box.SealString(e, enrollAD(sess))
}

func (h *Handler) openEnrollment(sess *session.Session, s string) (enrollment, bool) {
	var e enrollment
	ok := h.c.Box.OpenString(s, enrollAD(sess), &e) && time.Now().Before(e.Expires)
	return e, ok
}

// totpPage is the data of the TOTP set-up page.
type totpPage struct {
	Secret string       // base32, for manual entry
	QR     template.URL // data:image/png;base64,...
	// Link is the otpauth: URL itself, which opens an authenticator app
	// on the device showing the page (a phone cannot scan its own
	// screen).
	Link    template.URL
	Pending string // the sealed enrollment
	Error   string // tied to the code field
}

func (h *Handler) renderTOTP(w http.ResponseWriter, r *http.Request, status int, v totpPage) {
	h.pages.Render(w, r, status, pageTOTP, "totp.title", v)
}

func qrURL(png []byte) template.URL {
	// The PNG is ours, made from our own otpauth URL: safe to mark as a URL.
	return template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png))
}

func (h *Handler) showTOTP(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	if u.TOTPEnabled() {
		web.Redirect(w, r, Path)
		return
	}
	if !login.Recent(sess, h.c.Reauth, false) {
		login.Reauthenticate(w, r, PathTOTP)
		return
	}
	en, err := h.c.TOTP.Generate(u.Email)
	if err != nil {
		h.internalError(w, r, "generate TOTP secret", err)
		return
	}
	pending := h.sealEnrollment(sess, enrollment{Secret: en.Secret, URL: en.URL, Expires: time.Now().Add(enrollTTL)})
	h.renderTOTP(w, r, http.StatusOK, totpPage{Secret: en.Secret, QR: qrURL(en.QRPNG), Link: otpauthURL(en.URL), Pending: pending})
}

// otpauthURL marks u, the otpauth: URL mfa made, as safe for an href:
// html/template would refuse its scheme otherwise.
func otpauthURL(u string) template.URL {
	if !strings.HasPrefix(u, "otpauth://") {
		return ""
	}
	return template.URL(u)
}

// qrOf redraws the QR code of an enrollment for a second try.
func qrOf(url string) ([]byte, error) {
	key, err := otp.NewKeyFromURL(url)
	if err != nil {
		return nil, err
	}
	img, err := key.Image(200, 200)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (h *Handler) confirmTOTP(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if u.TOTPEnabled() {
		web.Redirect(w, r, Path)
		return
	}
	pending := r.PostFormValue("pending")
	en, ok := h.openEnrollment(sess, pending)
	if !ok {
		h.c.Site.Problem(w, r, http.StatusBadRequest, web.Problem{
			Heading: "totp.expired", Message: "totp.expired_text",
			LinkText: "totp.start_again", LinkHref: Path,
		})
		return
	}
	retry := func(status int, msg string) {
		png, err := qrOf(en.URL)
		if err != nil {
			h.internalError(w, r, "draw QR code", err)
			return
		}
		h.renderTOTP(w, r, status, totpPage{Secret: en.Secret, QR: qrURL(png), Link: otpauthURL(en.URL), Pending: pending, Error: msg})
	}
	code := strings.TrimSpace(r.PostFormValue("code"))
	if !h.limited(w, r, "account-code:"+u.ID, "totp.wrong", retry,
		func() (bool, error) {
			if !mfa.LooksLikeTOTP(code) {
				return false, nil
			}
			return h.c.TOTP.Check(ctx, u.ID, en.Secret, code)
		}) {
		return
	}
	codes, err := h.c.Accounts.EnableTOTP(ctx, actor(r), u, h.c.TOTP.Seal(u.ID, en.Secret))
	if errors.Is(err, accounts.ErrFactorExists) {
		// Another tab or request enrolled first; its codes stand.
		web.Redirect(w, r, Path)
		return
	} else if err != nil {
		h.internalError(w, r, "enable TOTP", err)
		return
	}
	h.renderCodes(w, r, codesPage{Codes: codes, Enabled: true})
}

func (h *Handler) disableTOTP(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if !u.TOTPEnabled() {
		web.Redirect(w, r, Path)
		return
	}
	if !h.limited(w, r, "account-code:"+u.ID, "totp.wrong_or_backup",
		h.onAccount(w, r, sess, u, func(v *accountPage, msg string) { v.DisableError = msg }),
		func() (bool, error) {
			ok, _, err := h.c.TOTP.CheckSecondFactor(ctx, h.c.Store, u, r.PostFormValue("code"))
			return ok, err
		}) {
		return
	}
	if err := h.c.Accounts.DisableTOTP(ctx, actor(r), u); err != nil {
		h.internalError(w, r, "disable TOTP", err)
		return
	}
	web.Redirect(w, r, Path+"?done=totp_off")
}

// codesPage shows backup codes, once.
type codesPage struct {
	Codes   []string
	Enabled bool // shown right after TOTP was turned on
}

func (h *Handler) renderCodes(w http.ResponseWriter, r *http.Request, v codesPage) {
	h.pages.Render(w, r, http.StatusOK, pageCodes, "codes.title", v)
}

// regenerateCodes replaces the backup codes. It asks for a current TOTP
// code, not a backup code: a session cookie alone must not mint a second
// factor, and one leaked backup code must not turn into ten fresh ones.
func (h *Handler) regenerateCodes(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if !u.TOTPEnabled() {
		h.renderAccount(w, r, http.StatusBadRequest, sess, u, accountPage{Notice: web.T(r, "codes.totp_first")})
		return
	}
	if !h.limited(w, r, "account-code:"+u.ID, "totp.wrong",
		h.onAccount(w, r, sess, u, func(v *accountPage, msg string) { v.CodesError = msg }),
		func() (bool, error) {
			code := r.PostFormValue("code")
			if !mfa.LooksLikeTOTP(code) {
				return false, nil
			}
			return h.c.TOTP.Validate(ctx, u, code)
		}) {
		return
	}
	codes, err := h.c.Accounts.RegenerateBackupCodes(ctx, actor(r), u)
	if err != nil {
		h.internalError(w, r, "regenerate backup codes", err)
		return
	}
	h.renderCodes(w, r, codesPage{Codes: codes})
}
