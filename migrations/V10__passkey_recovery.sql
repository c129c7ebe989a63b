-- Lost-passkey recovery and security notifications (issue 12).
--
-- A recovery token lets a verified address add a new passkey to its account. Like every token
-- it is stored only as an HMAC under SECRET_KEY (its own purpose, so it cannot be replayed as
-- an email verification token). A token is single use (`used_at`); a newer token, or a sign-in
-- with an existing passkey, deletes the unused ones. The token-purge job removes used and
-- expired tokens; erasure removes them all.
CREATE TABLE recovery_tokens (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX recovery_tokens_user_idx ON recovery_tokens (user_id);

-- Two more kinds of email: the recovery link (its token minted at send time, like the
-- verification link's) and a security notice (no token; `notice` says what happened, when,
-- and from where).
ALTER TABLE email_outbox DROP CONSTRAINT email_outbox_kind_check;
ALTER TABLE email_outbox ADD CONSTRAINT email_outbox_kind_check
    CHECK (kind IN ('verify_email', 'recover_passkey', 'security_notice'));
ALTER TABLE email_outbox ADD COLUMN notice JSONB;
CREATE INDEX email_outbox_user_kind_idx ON email_outbox (user_id, kind, created_at);

-- A recovery ceremony is its own kind, so neither a sign-up nor an add-passkey ceremony can be
-- finished as a recovery (nor the other way round); it names the token that verify consumes.
ALTER TABLE ceremonies DROP CONSTRAINT ceremonies_kind_check;
ALTER TABLE ceremonies ADD CONSTRAINT ceremonies_kind_check
    CHECK (kind IN ('registration', 'authentication', 'discoverable', 'recovery'));
ALTER TABLE ceremonies ADD COLUMN recovery_token_id UUID;

-- Named passkeys: the AAGUID the authenticator stated when the passkey was created (NULL when
-- unknown or all zeros); Raptor names a passkey after it unless its owner names it.
ALTER TABLE webauthn_credentials ADD COLUMN aaguid UUID;
