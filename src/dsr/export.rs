//! [`export`]: everything held about a person, for the customer (`GET /api/account/export`) or
//! an operator (`raptor dsr export`), audited before the caller may hand it out.

use serde_json::json;

use super::records::Export;
use super::{repo, stamp_operator, DataSubject, DsrDeps, DsrError, Origin};
use crate::audit::AuditEvent;

/// Who asks for an export.
#[derive(Debug, Clone)]
pub enum ExportRequester {
    /// The person themself, signed in: audited as `dsr.export` with them as actor.
    Customer(Origin),
    /// An operator (`raptor dsr export`): audited as `user.pii_access` naming the person as
    /// subject.
    Operator,
}

/// Reads everything held about `subject` in one consistent snapshot, releases the connection,
/// then appends the audit row. Only once the row is durable is the export returned, so nothing
/// is shown to anyone without its row.
pub async fn export(
    deps: &DsrDeps<'_>,
    subject: DataSubject,
    by: ExportRequester,
) -> Result<Export, DsrError> {
    let export = {
        let mut client = deps.pool.get().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let account = repo::find(&tx, &subject)
            .await?
            .ok_or(DsrError::NoSuchAccount)?;
        let export = repo::read_export(&tx, account.user_id, deps.now)
            .await?
            .ok_or(DsrError::NoSuchAccount)?;
        tx.commit().await?;
        export
    };

    let user_id = export.profile.user_id;
    let entry = match by {
        ExportRequester::Customer(origin) => {
            let mut entry = AuditEvent::DsrExport.entry();
            origin.stamp(&mut entry);
            entry.actor_user_id = Some(user_id);
            entry.details = json!({
                "passkeys": export.passkeys.len(),
                "sessions": export.sessions.len(),
                "orders": export.orders.len(),
                "audit_rows": export.audit.len(),
            });
            entry
        }
        ExportRequester::Operator => {
            let mut entry = AuditEvent::UserPiiAccess.entry();
            entry.subject = Some(user_id.to_string());
            entry.details = json!({ "purpose": "dsr.export" });
            stamp_operator(&mut entry);
            entry
        }
    };
    deps.audit.append(entry).await?;
    Ok(export)
}
