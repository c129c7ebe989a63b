//! The audit log's hash chain: how a row's hash is computed and how the chain is verified.
//!
//! Each row's hash covers the previous row's hash and every column of the row, encoded as a JSON
//! array so the encoding is unambiguous. Rows hold no email or other direct identifier (users
//! appear by their opaque id), so erasing a user never rewrites audit rows and the chain stays
//! verifiable after a hard delete.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// `prev_hash` of the first row ever written.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Every hashed column of one audit row.
#[derive(Debug, Clone)]
pub struct ChainedRow {
    /// The row's place in the chain.
    pub seq: i64,
    /// When it happened.
    pub occurred_at: DateTime<Utc>,
    /// The event's name.
    pub event: String,
    /// Who did it, if a person did.
    pub actor_user_id: Option<Uuid>,
    /// What it was done to.
    pub subject: Option<String>,
    /// The request's IP prefix.
    pub ip_prefix: Option<String>,
    /// The request's id.
    pub request_id: Option<String>,
    /// Canonical JSON text (keys sorted), exactly as stored.
    pub details: String,
}

/// The hash of `row` linked after a row whose hash is `prev_hash`.
pub fn link_hash(prev_hash: &str, row: &ChainedRow) -> String {
    let encoded = serde_json::json!([
        prev_hash,
        row.seq,
        row.occurred_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        row.event,
        row.actor_user_id,
        row.subject,
        row.ip_prefix,
        row.request_id,
        row.details,
    ]);
    hex::encode(Sha256::digest(encoded.to_string().as_bytes()))
}

/// The newest row's sequence number and hash: the chain's head, `None` while it is empty.
pub async fn head(
    client: &impl deadpool_postgres::GenericClient,
) -> Result<Option<(i64, String)>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// The stored hash of row `seq`, if the row exists.
pub async fn hash_at(
    client: &impl deadpool_postgres::GenericClient,
    seq: i64,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = client
        .query_opt("SELECT hash FROM audit_log WHERE seq = $1", &[&seq])
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// What a walk of the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainReport {
    /// Every row links to the one before it and hashes to its stored hash.
    Intact {
        /// Rows walked.
        rows: u64,
    },
    /// The first row whose link or hash does not match.
    Broken {
        /// That row's sequence number.
        seq: i64,
        /// What does not match.
        reason: &'static str,
    },
}

/// Walks the whole `audit_log` in order and reports the first broken link.
///
/// The oldest remaining row is trusted as the anchor (retention removes rows from the start of
/// the chain); every later row must link to its predecessor.
pub async fn verify(client: &tokio_postgres::Client) -> Result<ChainReport, tokio_postgres::Error> {
    const PAGE: i64 = 5_000;
    let mut rows_seen = 0u64;
    let mut last: Option<(i64, String)> = None;
    loop {
        let after = last.as_ref().map_or(i64::MIN, |(seq, _)| *seq);
        let page = client
            .query(
                "SELECT seq, occurred_at, event, actor_user_id, subject, ip_prefix, request_id, \
                 details, prev_hash, hash FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&after, &PAGE],
            )
            .await?;
        if page.is_empty() {
            return Ok(ChainReport::Intact { rows: rows_seen });
        }
        for r in &page {
            let row = ChainedRow {
                seq: r.get(0),
                occurred_at: r.get(1),
                event: r.get(2),
                actor_user_id: r.get(3),
                subject: r.get(4),
                ip_prefix: r.get(5),
                request_id: r.get(6),
                details: r.get(7),
            };
            let prev_hash: String = r.get(8);
            let hash: String = r.get(9);
            if let Some((last_seq, last_hash)) = &last {
                if row.seq != last_seq + 1 {
                    return Ok(ChainReport::Broken {
                        seq: row.seq,
                        reason: "a row is missing before this one",
                    });
                }
                if &prev_hash != last_hash {
                    return Ok(ChainReport::Broken {
                        seq: row.seq,
                        reason: "prev_hash does not match the previous row",
                    });
                }
            }
            if link_hash(&prev_hash, &row) != hash {
                return Ok(ChainReport::Broken {
                    seq: row.seq,
                    reason: "row content does not match its hash",
                });
            }
            rows_seen += 1;
            last = Some((row.seq, hash));
        }
    }
}
