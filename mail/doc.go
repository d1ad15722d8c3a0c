// Package mail renders latch's emails from embedded templates and delivers
// them in the background, so that no request waits on SMTP and no email
// that a state change calls for is lost.
//
// Jobs (storage.MailJob) are enqueued by the storage backends in the same
// transaction as the change: PostgresQueue works them from River's tables
// in PostgreSQL; MemoryQueue is the in-process queue of `latch serve --dev`.
// Both retry failed sends with backoff and give up, logged, after
// MaxAttempts. Senders are SMTPSender (LATCH_SMTP_URL) and StdoutSender, the
// development fallback that prints each email.
//
// The package must never log a message body, a link or a full recipient
// address (links carry tokens; logs carry the recipient's domain only), must
// never put a password in an error or a log line, and must never send the
// SMTP password unencrypted to a host other than a loopback one.
package mail
