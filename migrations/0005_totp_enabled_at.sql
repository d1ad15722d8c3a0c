-- When the current TOTP secret was set: a password reset, which proves
-- only the mailbox, may remove a second factor added shortly before it.
-- Accounts with TOTP already on count it from their last update.
ALTER TABLE users ADD COLUMN totp_enabled_at timestamptz;
UPDATE users SET totp_enabled_at = updated_at WHERE totp_secret IS NOT NULL;
