-- Pending passkeys (issue 9, item 1). A passkey registered for an address is not usable until
-- someone proves the address: it is stored `pending`, and every verification email sent for it
-- names it. Using that email's token makes this passkey (and no other) the account's, verifies
-- the account, and deletes every other pending passkey of it, so a party who never reads the
-- mailbox can never sign in. Invariant: a verified account has no pending passkey.

ALTER TABLE webauthn_credentials ADD COLUMN pending BOOLEAN NOT NULL DEFAULT FALSE;

-- The pending passkey an email vouches for; a discarded passkey takes its unused links and
-- unsent emails with it.
ALTER TABLE email_outbox
    ADD COLUMN registration_id UUID REFERENCES webauthn_credentials (id) ON DELETE CASCADE;
ALTER TABLE email_verifications
    ADD COLUMN registration_id UUID REFERENCES webauthn_credentials (id) ON DELETE CASCADE;

-- Accounts still unverified: whoever registered their passkeys has not proven the address. Each
-- passkey becomes pending, links already sent stop working (they cannot say whose passkey they
-- vouch for), and unsent emails vouch for the newest passkey. `email/resend` sends a fresh link.
UPDATE webauthn_credentials c SET pending = TRUE
FROM users u WHERE u.id = c.user_id AND u.email_verified_at IS NULL;

DELETE FROM email_verifications v USING users u
WHERE u.id = v.user_id AND u.email_verified_at IS NULL AND v.used_at IS NULL;

UPDATE email_outbox o SET registration_id = (
    SELECT c.id FROM webauthn_credentials c
    WHERE c.user_id = o.user_id AND c.pending ORDER BY c.created_at DESC LIMIT 1)
WHERE o.sent_at IS NULL;
