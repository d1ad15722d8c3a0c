package account

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/latch-idp/latch/accounts"
	"github.com/latch-idp/latch/locale"
	"github.com/latch-idp/latch/login"
	"github.com/latch-idp/latch/passkey"
	"github.com/latch-idp/latch/session"
	"github.com/latch-idp/latch/storage"
	"github.com/latch-idp/latch/web"
)

// passkeyRow is one passkey on the account page.
type passkeyRow struct {
	ID                  string // passkey.ID: the data-passkey-id hook
	Name                string
	Synced              bool // may be synced between devices
	Added, LastUsed     string
	AddedAt, LastUsedAt time.Time
}

func (h *Handler) passkeyRows(ctx context.Context, l locale.Lang, userID string) ([]passkeyRow, error) {
	ps, err := h.c.Store.ListPasskeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	rows := make([]passkeyRow, 0, len(ps))
	for _, p := range ps {
		row := passkeyRow{ID: passkey.ID(p), Name: p.Name, Synced: p.BackupEligible, Added: web.Ago(l, p.CreatedAt, now), AddedAt: p.CreatedAt.UTC()}
		if !p.LastUsedAt.IsZero() {
			row.LastUsed, row.LastUsedAt = web.Ago(l, p.LastUsedAt, now), p.LastUsedAt.UTC()
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// passkeyName is the name a new passkey gets: what the user typed, or the
// browser and system it was made on.
func passkeyName(r *http.Request) (string, error) {
	return accounts.PasskeyName(r.PostFormValue("passkey_name"), web.Device(web.Lang(r), web.UserAgent(r)))
}

const passkeyNameError = "account.passkey.name_invalid"

// passkeyOptions begins adding a passkey: the options for the browser, or
// where to go first (a sign-in, a fresh one: a session cookie alone must
// not bind a factor).
func (h *Handler) passkeyOptions(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if h.c.Passkeys.Off() != "" {
		web.JSON(w, http.StatusNotFound, web.ScriptAnswer{Error: web.T(r, "passkey.off")})
		return
	}
	sess, err := h.c.Sessions.Get(ctx, r)
	if errors.Is(err, session.ErrNoSession) {
		web.JSON(w, http.StatusUnauthorized, web.ScriptAnswer{Redirect: login.PathLogin + "?return_to=" + Path})
		return
	} else if err != nil {
		h.c.Site.ScriptFailed(w, r, h.c.Log, "account: load session", err)
		return
	}
	u, err := h.c.Store.GetUser(ctx, sess.UserID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && u.Disabled) {
		web.JSON(w, http.StatusUnauthorized, web.ScriptAnswer{Redirect: login.PathLogin})
		return
	} else if err != nil {
		h.c.Site.ScriptFailed(w, r, h.c.Log, "account: load user", err)
		return
	}
	if !login.Recent(sess, h.c.Reauth, false) {
		web.JSON(w, http.StatusOK, web.ScriptAnswer{Redirect: login.ReauthURL(Path)})
		return
	}
	if _, err := passkeyName(r); err != nil {
		web.JSON(w, http.StatusBadRequest, web.ScriptAnswer{Error: web.T(r, passkeyNameError)})
		return
	}
	have, err := h.c.Store.ListPasskeys(ctx, u.ID)
	if err != nil {
		h.c.Site.ScriptFailed(w, r, h.c.Log, "account: list passkeys", err)
		return
	}
	if len(have) >= accounts.MaxPasskeys {
		web.JSON(w, http.StatusBadRequest, web.ScriptAnswer{Error: web.T(r, tooManyPasskeys)})
		return
	}
	opts, err := h.c.Passkeys.BeginRegistration(ctx, u, have, sess.ID)
	if err != nil {
		h.c.Site.ScriptFailed(w, r, h.c.Log, "account: begin passkey registration", err)
		return
	}
	web.JSON(w, http.StatusOK, opts)
}

const tooManyPasskeys = "account.passkey.too_many"

// addPasskey takes the browser's answer to a registration and stores the
// passkey.
func (h *Handler) addPasskey(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	fail := func(msg string) {
		h.renderAccount(w, r, http.StatusBadRequest, sess, u, accountPage{PasskeyError: msg})
	}
	answer := r.PostFormValue("credential")
	if answer == "" {
		fail(web.T(r, "account.passkey.needs_script"))
		return
	}
	if !login.Recent(sess, h.c.Reauth, false) {
		login.Reauthenticate(w, r, Path)
		return
	}
	name, err := passkeyName(r)
	if err != nil {
		fail(web.T(r, passkeyNameError))
		return
	}
	p, err := h.c.Passkeys.FinishRegistration(ctx, u, sess.ID, r.PostFormValue("ceremony"), []byte(answer), name)
	if errors.Is(err, passkey.ErrExpired) {
		fail(web.T(r, "account.passkey.expired"))
		return
	} else if errors.Is(err, passkey.ErrRefused) || errors.Is(err, passkey.ErrOff) {
		fail(web.T(r, "account.passkey.not_added"))
		return
	} else if err != nil {
		h.internalError(w, r, "finish passkey registration", err)
		return
	}
	err = h.c.Accounts.AddPasskey(ctx, actor(r), u, p)
	if errors.Is(err, accounts.ErrTooManyPasskeys) {
		fail(web.T(r, tooManyPasskeys))
		return
	} else if errors.Is(err, storage.ErrAlreadyExists) {
		fail(web.T(r, "account.passkey.already"))
		return
	} else if err != nil {
		h.internalError(w, r, "add passkey", err)
		return
	}
	web.Redirect(w, r, Path+"?done=passkey_added")
}

func (h *Handler) renamePasskey(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	id, ok := passkey.ParseID(r.PostFormValue("passkey_id"))
	if !ok {
		h.c.Site.Error(w, r, http.StatusBadRequest, "account.passkey.none_chosen")
		return
	}
	name, err := accounts.PasskeyName(r.PostFormValue("passkey_rename"), "")
	if err != nil || name == "" {
		h.renderAccount(w, r, http.StatusBadRequest, sess, u, accountPage{PasskeyError: web.T(r, "account.passkey.name_length")})
		return
	}
	if err := h.c.Accounts.RenamePasskey(r.Context(), actor(r), u, id, name); err != nil && !errors.Is(err, accounts.ErrNotFound) {
		h.internalError(w, r, "rename passkey", err)
		return
	}
	web.Redirect(w, r, Path+"?done=passkey_renamed")
}

// removePasskey removes one of the user's passkeys. Like every change of
// the factors, it asks for a recent sign-in.
func (h *Handler) removePasskey(w http.ResponseWriter, r *http.Request) {
	sess, u, ok := h.signedIn(w, r)
	if !ok {
		return
	}
	id, ok := passkey.ParseID(r.PostFormValue("passkey_remove"))
	if !ok {
		h.c.Site.Error(w, r, http.StatusBadRequest, "account.passkey.none_chosen")
		return
	}
	if !login.Recent(sess, h.c.Reauth, false) {
		login.Reauthenticate(w, r, Path)
		return
	}
	if err := h.c.Accounts.RemovePasskey(r.Context(), actor(r), u, id); err != nil && !errors.Is(err, accounts.ErrNotFound) {
		h.internalError(w, r, "remove passkey", err)
		return
	}
	web.Redirect(w, r, Path+"?done=passkey_removed")
}
