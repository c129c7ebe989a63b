//! Checking the audit trail behind the application's back (`raptor audit verify`, `raptor audit
//! head`): the hash chain's walk, the anchor retention left, and a head recorded elsewhere.
//!
//! The chain walk trusts the oldest remaining row as its anchor, because audit retention removes
//! rows from the start of the chain. So that a prefix deleted by hand is not mistaken for
//! retention, [`verify`] also checks the anchor against what the retention job recorded it had
//! trimmed. Rows deleted from the *end* leave no broken link: an expected head (the writer logs
//! it every 10 minutes; an operator may note [`head`]) must still be there, unchanged.

use deadpool_postgres::{GenericClient, Pool};
use raptor_actors::audit::chain::{self, ChainReport};

use crate::db::{storage_errors, StorageError};

/// The chain checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// No row yet.
    Empty,
    /// Every link holds from `first` to `last`.
    Intact {
        /// Rows walked.
        rows: u64,
        /// The anchor's sequence number.
        first: i64,
        /// The head's sequence number.
        last: i64,
    },
}

/// What `verify` found wrong, or could not read.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// A row's hash or link does not match.
    #[error("audit chain broken at seq {seq}: {reason}")]
    Broken {
        /// The first broken row.
        seq: i64,
        /// What does not match.
        reason: &'static str,
    },
    /// Rows before `first` were removed, further than retention trimmed.
    #[error(
        "audit chain broken at seq {first}: rows before it were removed, but retention only \
         trimmed through seq {trimmed}"
    )]
    PrefixRemoved {
        /// The oldest remaining row.
        first: i64,
        /// The last row retention recorded it removed (0 for none).
        trimmed: i64,
    },
    /// The expected head is gone.
    #[error("audit head seq {0} is missing: rows were removed from the end of the chain")]
    HeadMissing(i64),
    /// The expected head's row has another hash.
    #[error("audit head seq {0} has a different hash than was recorded")]
    HeadChanged(i64),
    /// The database failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}
storage_errors!(VerifyError);

/// Walks the chain, checks its anchor against retention, then (if given) that `expect_head`
/// (`SEQ`, lower-case hex `HASH`) is still in it, unchanged.
pub async fn verify(
    pool: &Pool,
    expect_head: Option<(i64, &str)>,
) -> Result<Verified, VerifyError> {
    let client = pool.get().await?;
    let verified = walk(&client).await?;
    if let Some((seq, hash)) = expect_head {
        match chain::hash_at(&client, seq).await? {
            Some(stored) if stored == hash => {}
            Some(_) => return Err(VerifyError::HeadChanged(seq)),
            None => return Err(VerifyError::HeadMissing(seq)),
        }
    }
    Ok(verified)
}

/// The newest row's sequence number and hash; `None` while the trail is empty.
pub async fn head(pool: &Pool) -> Result<Option<(i64, String)>, StorageError> {
    let client = pool.get().await?;
    Ok(chain::head(&client).await?)
}

async fn walk(client: &deadpool_postgres::Client) -> Result<Verified, VerifyError> {
    let rows = match chain::verify(client).await? {
        ChainReport::Intact { rows } => rows,
        ChainReport::Broken { seq, reason } => return Err(VerifyError::Broken { seq, reason }),
    };
    let (Some(first), Some(last)) = span(client).await? else {
        return Ok(Verified::Empty);
    };
    if first > 1 {
        let trimmed = trimmed_through(client).await?;
        if trimmed.is_none_or(|t| t < first - 1) {
            let trimmed = trimmed.unwrap_or(0);
            return Err(VerifyError::PrefixRemoved { first, trimmed });
        }
    }
    Ok(Verified::Intact { rows, first, last })
}

/// The name under which audit retention records its runs in `job_runs` (the retention job
/// `audit_retention`).
pub const RETENTION_JOB: &str = "audit_retention";

/// The highest `seq` audit retention has been allowed to remove (rows up to it were older than
/// 7 years when it ran, recorded in its run's `trimmed_through`), or `None` if it never trimmed.
async fn trimmed_through(client: &impl GenericClient) -> Result<Option<i64>, StorageError> {
    let row = client
        .query_one(
            "SELECT max((details->>'trimmed_through')::bigint) FROM job_runs \
             WHERE job = $1 AND finished_at IS NOT NULL",
            &[&RETENTION_JOB],
        )
        .await?;
    Ok(row.get(0))
}

/// The oldest and newest sequence numbers still stored.
async fn span(client: &impl GenericClient) -> Result<(Option<i64>, Option<i64>), StorageError> {
    let span = client
        .query_one("SELECT min(seq), max(seq) FROM audit_log", &[])
        .await?;
    Ok((span.get(0), span.get(1)))
}
