//! The audit writer: the only code that appends to `audit_log`, and the owner of the chain head.
//!
//! Callers send [`AuditMsg::Append`] and await the reply; the reply comes only after the row is
//! committed, so "durable before the response" holds. Appends that arrive while a commit is in
//! flight are committed together in the next transaction (group commit). Across processes the
//! chain is serialised by a transaction-scoped advisory lock, and the head is read under it, so
//! several dynos extend one unbroken chain.
//!
//! Rows deleted from the end of the chain leave no broken link, so the writer also logs the
//! head (`audit chain head`, with `audit_head_seq` and `audit_head_hash`) every
//! [`HEAD_LOG_EVERY`]: the log drain keeps a copy outside the database, which
//! `raptor audit verify --expect-head SEQ:HASH` checks the table against.

pub mod chain;
mod client;

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use uuid::Uuid;

use crate::clock::SharedClock;
use chain::{link_hash, ChainedRow, GENESIS_HASH};
pub use client::{AppendError, AuditClient};

/// Advisory lock key that serialises chain extension across every process ("audit" in ASCII).
const CHAIN_LOCK_KEY: i64 = 0x0061_7564_6974;
/// Upper bound on rows committed in one transaction.
const MAX_BATCH: usize = 500;
/// How often a running writer logs the chain's head.
pub const HEAD_LOG_EVERY: Duration = Duration::from_secs(600);

/// One event to record. Hold no raw token, key or email here: users appear by id and IPs by
/// prefix.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// The event's name (the domain's `AuditEvent`).
    pub event: &'static str,
    /// Who did it, when a signed-in person did.
    pub actor_user_id: Option<Uuid>,
    /// What it was done to (an id), when that is not the actor.
    pub subject: Option<String>,
    /// The IP prefix of the request (never the full address).
    pub ip_prefix: Option<String>,
    /// The request's id, to find its log lines.
    pub request_id: Option<String>,
    /// Anything else worth recording, as a JSON object (no secrets, no email addresses).
    pub details: serde_json::Value,
}

impl AuditEntry {
    /// An entry for `event` with nothing else set.
    pub fn new(event: &'static str) -> Self {
        Self {
            event,
            actor_user_id: None,
            subject: None,
            ip_prefix: None,
            request_id: None,
            details: serde_json::Value::Object(Default::default()),
        }
    }
}

/// The append could not be made durable; the change it records must fail too.
#[derive(Debug, Clone, thiserror::Error)]
#[error("audit row could not be committed")]
pub struct AuditError;

/// Sequence number of a committed row.
pub type AuditSeq = i64;

/// The audit writer's messages.
pub enum AuditMsg {
    /// Append a row; the reply arrives once it is committed.
    Append(AuditEntry, RpcReplyPort<Result<AuditSeq, AuditError>>),
    /// Commit everything pending now (shutdown); replies when done.
    Flush(RpcReplyPort<()>),
    /// Internal: commit the pending batch.
    Commit,
    /// Internal (a timer): log the chain's head.
    LogHead,
    /// Test-only: panic, to exercise supervision.
    #[cfg(feature = "testing")]
    Fault,
}

/// The audit writer actor: the one owner of the chain's head, appending rows in batches.
pub struct AuditWriter;

/// What the audit writer starts with.
pub struct AuditArgs {
    /// The audit trail's database.
    pub pool: Pool,
    /// Stamps each row's `occurred_at`.
    pub clock: SharedClock,
    /// How often to log the chain's head ([`HEAD_LOG_EVERY`] in the long-running processes;
    /// `None` for an operator command's short-lived writer).
    pub head_log_every: Option<Duration>,
}

/// The audit writer's state: the rows waiting for the next commit.
pub struct AuditState {
    pool: Pool,
    clock: SharedClock,
    pending: Vec<(AuditEntry, RpcReplyPort<Result<AuditSeq, AuditError>>)>,
    _head_timer: Option<crate::task::AbortOnDrop<()>>,
}

impl Actor for AuditWriter {
    type Msg = AuditMsg;
    type State = AuditState;
    type Arguments = AuditArgs;

    async fn pre_start(
        &self,
        myself: ActorRef<AuditMsg>,
        args: AuditArgs,
    ) -> Result<AuditState, ActorProcessingErr> {
        let head_timer = args.head_log_every.map(|every| {
            crate::task::AbortOnDrop(tokio::spawn(async move {
                let mut ticks = tokio::time::interval(every);
                loop {
                    ticks.tick().await;
                    if myself.send_message(AuditMsg::LogHead).is_err() {
                        return;
                    }
                }
            }))
        });
        Ok(AuditState {
            pool: args.pool,
            clock: args.clock,
            pending: Vec::new(),
            _head_timer: head_timer,
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<AuditMsg>,
        msg: AuditMsg,
        state: &mut AuditState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            AuditMsg::Append(entry, reply) => {
                if state.pending.is_empty() {
                    // Queued behind the appends already waiting, so they join this batch.
                    myself.send_message(AuditMsg::Commit)?;
                }
                state.pending.push((entry, reply));
                if state.pending.len() >= MAX_BATCH {
                    state.commit_pending().await;
                }
            }
            AuditMsg::Commit => state.commit_pending().await,
            AuditMsg::LogHead => log_head(&state.pool).await,
            AuditMsg::Flush(reply) => {
                state.commit_pending().await;
                let _ = reply.send(());
            }
            #[cfg(feature = "testing")]
            AuditMsg::Fault => panic!("fault injected into the audit writer"),
        }
        Ok(())
    }

    async fn post_stop(
        &self,
        _: ActorRef<AuditMsg>,
        state: &mut AuditState,
    ) -> Result<(), ActorProcessingErr> {
        state.commit_pending().await;
        Ok(())
    }
}

impl AuditState {
    async fn commit_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        let now = self.clock.now();
        let result =
            tokio::time::timeout(Duration::from_secs(10), commit(&self.pool, now, &batch)).await;
        match result {
            Ok(Ok(first_seq)) => {
                for (i, (_, reply)) in batch.into_iter().enumerate() {
                    let _ = reply.send(Ok(first_seq + i as i64));
                }
            }
            Ok(Err(error)) => fail_batch(batch, &error),
            Err(_) => fail_batch(batch, &"commit timed out"),
        }
    }
}

/// Logs the chain's newest row (`raptor audit head` prints the same pair).
async fn log_head(pool: &Pool) {
    let head = match pool.get().await {
        Ok(client) => chain::head(&client).await.map_err(|e| e.to_string()),
        Err(error) => Err(error.to_string()),
    };
    match head {
        Ok(Some((seq, hash))) => {
            tracing::info!(audit_head_seq = seq, audit_head_hash = %hash, "audit chain head")
        }
        Ok(None) => tracing::info!(audit_head_seq = 0, "audit chain head: no rows yet"),
        Err(error) => tracing::warn!(%error, "audit chain head could not be read"),
    }
}

fn fail_batch(
    batch: Vec<(AuditEntry, RpcReplyPort<Result<AuditSeq, AuditError>>)>,
    error: &dyn std::fmt::Display,
) {
    tracing::error!(rows = batch.len(), %error, "audit batch failed to commit");
    for (_, reply) in batch {
        let _ = reply.send(Err(AuditError));
    }
}

#[derive(Debug, thiserror::Error)]
enum CommitError {
    #[error("pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
}

/// Commits `batch` in one transaction and returns the first row's sequence number.
async fn commit(
    pool: &Pool,
    now: DateTime<Utc>,
    batch: &[(AuditEntry, RpcReplyPort<Result<AuditSeq, AuditError>>)],
) -> Result<AuditSeq, CommitError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let first_seq = append_in(&tx, now, batch.iter().map(|(entry, _)| entry)).await?;
    tx.commit().await?;
    Ok(first_seq)
}

/// Appends `entries` to the chain inside the caller's transaction `tx` (durable when it
/// commits, gone if it rolls back) and returns the first row's sequence number. For a change
/// that must be recorded exactly once with its row across processes (a compare-and-set in the
/// same transaction); everything else goes through the writer ([`AuditClient::append`]). The
/// chain lock is held until `tx` ends: keep that transaction short.
pub async fn append_in<'a>(
    tx: &tokio_postgres::Transaction<'_>,
    now: DateTime<Utc>,
    entries: impl IntoIterator<Item = &'a AuditEntry>,
) -> Result<AuditSeq, tokio_postgres::Error> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHAIN_LOCK_KEY])
        .await?;
    let head = tx
        .query_opt(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await?;
    let (mut seq, mut prev_hash) = head
        .map(|r| (r.get::<_, i64>(0), r.get::<_, String>(1)))
        .unwrap_or((0, GENESIS_HASH.to_owned()));
    let first_seq = seq + 1;

    let mut cols = Columns::default();
    for entry in entries {
        seq += 1;
        let row = ChainedRow {
            seq,
            occurred_at: now,
            event: entry.event.to_owned(),
            actor_user_id: entry.actor_user_id,
            subject: entry.subject.clone(),
            ip_prefix: entry.ip_prefix.clone(),
            request_id: entry.request_id.clone(),
            // serde_json's map is ordered by key, so this text is canonical.
            details: entry.details.to_string(),
        };
        let hash = link_hash(&prev_hash, &row);
        cols.push(row, std::mem::replace(&mut prev_hash, hash.clone()), hash);
    }
    tx.execute(
        "INSERT INTO audit_log (seq, occurred_at, event, actor_user_id, subject, ip_prefix, \
         request_id, details, prev_hash, hash) \
         SELECT * FROM UNNEST($1::bigint[], $2::timestamptz[], $3::text[], $4::uuid[], $5::text[], \
         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])",
        &[
            &cols.seq,
            &cols.occurred_at,
            &cols.event,
            &cols.actor_user_id,
            &cols.subject,
            &cols.ip_prefix,
            &cols.request_id,
            &cols.details,
            &cols.prev_hash,
            &cols.hash,
        ],
    )
    .await?;
    Ok(first_seq)
}

/// Column arrays for one multi-row insert.
#[derive(Default)]
struct Columns {
    seq: Vec<i64>,
    occurred_at: Vec<DateTime<Utc>>,
    event: Vec<String>,
    actor_user_id: Vec<Option<Uuid>>,
    subject: Vec<Option<String>>,
    ip_prefix: Vec<Option<String>>,
    request_id: Vec<Option<String>>,
    details: Vec<String>,
    prev_hash: Vec<String>,
    hash: Vec<String>,
}

impl Columns {
    fn push(&mut self, row: ChainedRow, prev_hash: String, hash: String) {
        self.seq.push(row.seq);
        self.occurred_at.push(row.occurred_at);
        self.event.push(row.event);
        self.actor_user_id.push(row.actor_user_id);
        self.subject.push(row.subject);
        self.ip_prefix.push(row.ip_prefix);
        self.request_id.push(row.request_id);
        self.details.push(row.details);
        self.prev_hash.push(prev_hash);
        self.hash.push(hash);
    }
}
