-- Passkey accounts (SPEC §4). Every token is stored only as an HMAC under SECRET_KEY.

CREATE TABLE users (
    id                UUID PRIMARY KEY,
    -- Normalised (trimmed, lower-cased). Unique even across soft-deleted rows, so an erased
    -- address cannot re-register during the 30-day quarantine.
    email             TEXT NOT NULL UNIQUE,
    email_verified_at TIMESTAMPTZ,
    is_operator       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at        TIMESTAMPTZ NOT NULL,
    deleted_at        TIMESTAMPTZ
);
CREATE INDEX users_deleted_at_idx ON users (deleted_at) WHERE deleted_at IS NOT NULL;

CREATE TABLE webauthn_credentials (
    id             UUID PRIMARY KEY,
    user_id        UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- base64url of the authenticator's credential id.
    credential_id  TEXT NOT NULL UNIQUE,
    -- webauthn-rs Passkey (public key, counter, backup state) as JSON.
    passkey        JSONB NOT NULL,
    name           TEXT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state   BOOLEAN NOT NULL,
    created_at     TIMESTAMPTZ NOT NULL,
    last_used_at   TIMESTAMPTZ
);
CREATE INDEX webauthn_credentials_user_idx ON webauthn_credentials (user_id);

-- Server-side WebAuthn ceremony state: single use (deleted on first use), 5-minute TTL.
CREATE TABLE ceremonies (
    id                 UUID PRIMARY KEY,
    kind               TEXT NOT NULL CHECK (kind IN ('registration', 'authentication', 'discoverable')),
    user_id            UUID,
    email              TEXT,
    bootstrap_token_id UUID,
    state              JSONB NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL,
    expires_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX ceremonies_expires_at_idx ON ceremonies (expires_at);

CREATE TABLE sessions (
    id                  UUID PRIMARY KEY,
    token_hash          TEXT NOT NULL UNIQUE,
    user_id             UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at          TIMESTAMPTZ NOT NULL,
    last_seen_at        TIMESTAMPTZ NOT NULL,
    idle_expires_at     TIMESTAMPTZ NOT NULL,
    absolute_expires_at TIMESTAMPTZ NOT NULL,
    revoked_at          TIMESTAMPTZ,
    ip_prefix           TEXT,
    user_agent          TEXT
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_idle_expires_idx ON sessions (idle_expires_at);

CREATE TABLE email_verifications (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX email_verifications_user_idx ON email_verifications (user_id);

CREATE TABLE bootstrap_tokens (
    id         UUID PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    -- When set, the token only registers this (normalised) address.
    email      TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ,
    used_by    UUID
);

-- Durable email queue drained by the mailer. Holds no token: the mailer mints the verification
-- token when it sends, so only its HMAC is ever stored.
CREATE TABLE email_outbox (
    id              UUID PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('verify_email')),
    user_id         UUID REFERENCES users (id) ON DELETE CASCADE,
    recipient       TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ,
    last_error      TEXT
);
CREATE INDEX email_outbox_pending_idx ON email_outbox (next_attempt_at) WHERE sent_at IS NULL;
