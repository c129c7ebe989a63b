//! Operator commands (`raptor bootstrap-token …`, `raptor kill-switch …`, `raptor dsr …`,
//! `raptor audit verify`, `raptor retention report`, `raptor recovery create`, `raptor book …`): one module per
//! command group, each running against the database through a [`CliContext`].
//!
//! On Heroku they run as one-off dynos (`heroku run raptor …`) with the app's config vars.

pub mod audit;
pub mod book;
pub mod bootstrap;
pub mod dsr;
pub mod kill_switch;
pub mod recovery;
pub mod retention;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::Pool;
use ractor::{Actor, ActorRef};
use raptor_actors::audit::{AuditArgs, AuditClient, AuditEntry, AuditMsg, AuditWriter};
use raptor_actors::clock::SystemClock;

use crate::settings::Settings;

/// Settings, a small pool and an audit writer of its own: what an operator command needs.
pub struct CliContext {
    /// The process's settings (the app's config vars).
    pub settings: Settings,
    /// A small pool of its own.
    pub pool: Pool,
    writer: ActorRef<AuditMsg>,
    audit: AuditClient,
}

impl CliContext {
    pub async fn open(settings: Settings) -> anyhow::Result<Self> {
        let url = settings
            .database_url()
            .context("configuration error: DATABASE_URL is required")?;
        let pool = crate::db::build_pool(url, settings.database.ssl, 2)?;
        let args = AuditArgs {
            pool: pool.clone(),
            clock: Arc::new(SystemClock),
            head_log_every: None,
        };
        let (writer, _) = Actor::spawn(None, AuditWriter, args)
            .await
            .map_err(|e| anyhow::anyhow!("audit writer failed to start: {e}"))?;
        Ok(Self {
            settings,
            pool,
            audit: AuditClient::unsupervised(writer.clone()),
            writer,
        })
    }

    /// Records an operator action; returns once it is durable. Operator rows carry
    /// `subject = "operator:cli"` unless the entry names one.
    pub async fn audit(&self, mut entry: AuditEntry) -> anyhow::Result<()> {
        entry
            .details
            .as_object_mut()
            .map(|d| d.insert("source".into(), "cli".into()));
        match self.audit.append(entry).await {
            Ok(_) => Ok(()),
            Err(_) => anyhow::bail!("the audit row could not be written; nothing was changed"),
        }
    }

    /// The command's audit writer as a client, for use cases that append their own rows.
    pub fn audit_client(&self) -> AuditClient {
        self.audit.clone()
    }

    /// The token key (`SECRET_KEY`, and the previous one during a rotation).
    pub fn hasher(&self) -> raptor_actors::token::TokenHasher {
        self.settings.token_hasher()
    }

    /// Stops the command's audit writer once what it holds is written.
    pub async fn close(self) {
        let _ = self
            .writer
            .stop_and_wait(None, Some(Duration::from_secs(5)))
            .await;
    }
}
