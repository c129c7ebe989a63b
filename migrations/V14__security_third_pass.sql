-- Security and GDPR, third pass (issue 24).

-- Step-up (item 2): when the session's holder last proved a passkey. A sign-in (or a recovery)
-- sets it when the session starts, `POST /api/auth/reauth/verify` moves it forward; adding or
-- removing a passkey, ending the other sessions and erasing the account need it recent.
-- Sessions that exist already were started by a sign-in.
ALTER TABLE sessions ADD COLUMN asserted_at TIMESTAMPTZ;
UPDATE sessions SET asserted_at = created_at;

-- A step-up ceremony is its own kind: neither a sign-in nor a creation ceremony finishes as one.
ALTER TABLE ceremonies DROP CONSTRAINT ceremonies_kind_check;
ALTER TABLE ceremonies ADD CONSTRAINT ceremonies_kind_check
    CHECK (kind IN ('registration', 'authentication', 'discoverable', 'recovery', 'reauth'));

-- Accounts never verified are purged 7 days after their last registration (item 7).
CREATE INDEX users_unverified_idx ON users (created_at)
    WHERE email_verified_at IS NULL AND deleted_at IS NULL;

-- Security notices keep a user-agent fragment only, like sessions (item 7): the 64 printable
-- ASCII characters a session keeps.
UPDATE email_outbox
SET notice = jsonb_set(notice, '{user_agent}',
    to_jsonb(left(regexp_replace(notice->>'user_agent', '[^\x20-\x7e]', '', 'g'), 64)))
WHERE kind = 'security_notice' AND notice->>'user_agent' IS NOT NULL;
