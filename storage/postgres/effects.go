package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/latch-idp/latch/storage"
)

// Mail jobs go to their own queue, so a slow mail server never delays other
// work, and are retried for some hours with River's backoff before they are
// discarded.
var mailInsertOpts = river.InsertOpts{Queue: "mail", MaxAttempts: 10}

// writeEffects writes fx in tx, so that the audit trail and the mail are
// there exactly when the change is.
func (s *Store) writeEffects(ctx context.Context, tx pgx.Tx, fx storage.Effects) error {
	for _, e := range fx.Audit {
		if err := insertAudit(ctx, tx, e); err != nil {
			return err
		}
	}
	for _, m := range fx.Mail {
		if _, err := s.river.InsertTx(ctx, tx, m, &mailInsertOpts); err != nil {
			return fmt.Errorf("enqueue mail: %w", translate(err))
		}
	}
	return nil
}

// EnqueueMail enqueues m on its own.
func (s *Store) EnqueueMail(ctx context.Context, m storage.MailJob) error {
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		return s.writeEffects(ctx, tx, storage.Effects{Mail: []storage.MailJob{m}})
	})
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

const insertAuditSQL = `INSERT INTO audit_log (at, kind, user_id, client_id, ip, user_agent, detail)
	VALUES (coalesce($1, now()), $2, $3, $4, $5, $6, $7)`

func insertAudit(ctx context.Context, q db, e storage.AuditEvent) error {
	detail := []byte("{}")
	if len(e.Detail) > 0 {
		var err error
		if detail, err = json.Marshal(e.Detail); err != nil {
			return fmt.Errorf("encode audit detail: %w", err)
		}
	}
	_, err := q.Exec(ctx, insertAuditSQL, nullTime(e.At), e.Kind, nullString(e.UserID), nullString(e.ClientID),
		e.IP, e.UserAgent, detail)
	if err != nil {
		return fmt.Errorf("append audit: %w", translate(err))
	}
	return nil
}

// AppendAudit records e; its time defaults to now.
func (s *Store) AppendAudit(ctx context.Context, e storage.AuditEvent) error {
	if err := insertAudit(ctx, s.db(ctx), e); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

// ListAudit returns the newest events first, of userID or of everyone when
// userID is empty, at most limit of them (all when limit <= 0).
func (s *Store) ListAudit(ctx context.Context, userID string, limit int) ([]storage.AuditEvent, error) {
	return s.QueryAudit(ctx, storage.AuditQuery{UserID: userID, Limit: limit})
}

// Each filter is written so that NULL turns it off; LIMIT NULL means no
// limit.
const queryAuditSQL = `SELECT id, at, kind, user_id, client_id, ip, user_agent, detail FROM audit_log
	WHERE ($1::text IS NULL OR kind = $1)
	AND ($2::text IS NULL OR user_id = $2)
	AND ($3::text IS NULL OR client_id = $3)
	AND ($4::timestamptz IS NULL OR at >= $4)
	AND ($5::timestamptz IS NULL OR at < $5)
	AND ($6::bigint IS NULL OR id < $6)
	ORDER BY id DESC
	LIMIT $7`

// QueryAudit returns the events q selects, newest first.
func (s *Store) QueryAudit(ctx context.Context, q storage.AuditQuery) ([]storage.AuditEvent, error) {
	var lim, before *int64
	if q.Limit > 0 {
		l := int64(q.Limit)
		lim = &l
	}
	if q.BeforeID > 0 {
		before = &q.BeforeID
	}
	rows, err := s.db(ctx).Query(ctx, queryAuditSQL, nullString(q.Kind), nullString(q.UserID), nullString(q.ClientID),
		nullTime(q.Since), nullTime(q.Until), before, lim)
	if err != nil {
		return nil, fmt.Errorf("postgres: query audit: %w", translate(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.AuditEvent, error) {
		var (
			e                storage.AuditEvent
			userID, clientID *string
			detail           []byte
		)
		if err := r.Scan(&e.ID, &e.At, &e.Kind, &userID, &clientID, &e.IP, &e.UserAgent, &detail); err != nil {
			return e, err
		}
		e.At, e.UserID, e.ClientID = e.At.UTC(), fromNullString(userID), fromNullString(clientID)
		if err := json.Unmarshal(detail, &e.Detail); err != nil {
			return e, fmt.Errorf("decode audit detail: %w", err)
		}
		if len(e.Detail) == 0 {
			e.Detail = nil
		}
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: query audit: %w", translate(err))
	}
	return out, nil
}
