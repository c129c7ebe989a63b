-- Issue 23: the session store (actors/src/session) reads what a session needs of an account
-- through this view, which the auth domain defines, instead of naming the users table and its
-- rules: who may open a session (verified, not erased) and whose sessions stay live (not
-- erased). Same single statement per lookup as before.
CREATE VIEW session_accounts AS
SELECT id,
       email,
       is_operator,
       deleted_at IS NULL AND email_verified_at IS NOT NULL AS may_sign_in,
       deleted_at IS NULL AS live
FROM users;
