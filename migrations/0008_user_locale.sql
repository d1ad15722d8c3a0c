-- The language of the user's emails when no request of theirs causes one
-- (a refresh-token reuse alert from the token endpoint): the language of
-- their last sign-in or of their registration. Empty: English.
ALTER TABLE users ADD COLUMN locale text NOT NULL DEFAULT '';
