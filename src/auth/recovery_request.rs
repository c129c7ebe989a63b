//! `recovery/start`, after the 202 ([`request_recovery`]): who gets a recovery email, how
//! often, and how the request is audited without naming the address it was asked about.

use super::recovery::RecoveryError;
use super::repo::{recoveries, users, verifications};
use super::{Accounts, Email, Origin};
use crate::audit::AuditEvent;

/// Recovery emails an account may be sent per hour.
pub const RECOVERIES_PER_ACCOUNT_PER_HOUR: i64 = 3;

/// The pseudonym a recovery request is audited under: a keyed hash of the address, so the
/// trail can link requests for one address without storing it (or revealing whether it exists).
fn pseudonym(accounts: &Accounts, email: &Email) -> String {
    let digest = accounts.hasher.digest("recovery-subject", email.as_str());
    format!("email-hmac:{}", &digest[..32.min(digest.len())])
}

/// `recovery/start`, after the 202: for a verified, non-erased account below its hourly limit,
/// queues a recovery email. Audits every request about an account (`recovery.requested`,
/// pseudonymous subject); a request for an address with no account leaves no row at all, since
/// anything derived from an address nobody registered would be personal data held about a
/// stranger (issue 24, item 7). Says nothing to the caller, who was answered before this ran.
pub async fn request_recovery(
    accounts: &Accounts,
    origin: &Origin,
    email: &str,
) -> Result<(), RecoveryError> {
    let Ok(email) = Email::parse(email) else {
        return Ok(());
    };
    let now = accounts.now();
    let since = now - chrono::Duration::hours(1);
    let (user, recent) = {
        let client = accounts.pool.get().await?;
        let user = users::by_email(&client, &email).await?;
        let recent = match &user {
            Some(u) if u.is_active() => recoveries::recent_requests(&client, u.id, since).await?,
            _ => 0,
        };
        (user, recent)
    };
    let outcome = match &user {
        None => return Ok(()),
        Some(u) if !u.is_active() => "account_inactive",
        Some(_) if recent >= RECOVERIES_PER_ACCOUNT_PER_HOUR => "rate_limited",
        Some(_) => "queued",
    };
    let mut entry = origin.audit(AuditEvent::RecoveryRequested, user.as_ref().map(|u| u.id));
    entry.subject = Some(pseudonym(accounts, &email));
    entry.details = serde_json::json!({ "channel": "email", "outcome": outcome });
    accounts.audit(entry).await?;
    let Some(user) = user.filter(|_| outcome == "queued") else {
        return Ok(());
    };

    let mut client = accounts.pool.get().await?;
    let tx = client.transaction().await?;
    // One request per address at a time, so concurrent ones cannot all pass the limit.
    verifications::lock_address(&tx, email.as_str()).await?;
    match users::lock(&tx, user.id).await? {
        Some(u) if u.is_active() => {}
        _ => return Ok(()),
    }
    if recoveries::recent_requests(&tx, user.id, since).await? >= RECOVERIES_PER_ACCOUNT_PER_HOUR {
        return Ok(());
    }
    recoveries::enqueue(&tx, user.id, email.as_str(), now).await?;
    tx.commit().await?;
    accounts.actors.mailer.wake();
    Ok(())
}
