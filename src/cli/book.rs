//! `raptor book show --email E`, `raptor book adjust --email E --cash DELTA --reason R` and
//! `raptor book reconcile`: the operator's side of the paper books (docs/trading.md "Books").
//!
//! `show` prints the book as JSON (audited as `user.pii_access`, like an export); `adjust`
//! calls `crate::trading::book::adjust`, which audits `book.adjust` before it writes; `reconcile`
//! compares the books together with Alpaca's positions and exits non-zero on drift.

use anyhow::{bail, Context};
use chrono::Utc;
use rust_decimal::Decimal;
use serde_json::json;
use uuid::Uuid;

use super::CliContext;
use crate::audit::AuditEvent;
use crate::auth::Email;
use crate::trading::book::{self, drift, repo};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print a person's book: cash, positions, recent fills (audited as `user.pii_access`).
    Show {
        #[arg(long)]
        email: String,
    },
    /// Add DELTA (negative to take away) to a book's cash, audited first.
    Adjust {
        #[arg(long)]
        email: String,
        /// A decimal amount in USD, e.g. `2500` or `-100.50`.
        #[arg(long, allow_hyphen_values = true)]
        cash: String,
        /// Why, for the audit trail: a ticket reference, not personal data.
        #[arg(long)]
        reason: String,
    },
    /// Compare the sum of all books with Alpaca's positions; exit 1 on drift.
    Reconcile,
}

pub async fn run(command: Command, ctx: &CliContext) -> anyhow::Result<()> {
    match command {
        Command::Show { email } => show(ctx, &email).await,
        Command::Adjust {
            email,
            cash,
            reason,
        } => adjust(ctx, &email, &cash, &reason).await,
        Command::Reconcile => reconcile(ctx).await,
    }
}

async fn user_id(ctx: &CliContext, email: &str) -> anyhow::Result<Uuid> {
    let email = Email::parse(email).context("--email is not a valid address")?;
    let client = ctx.pool.get().await?;
    let user = crate::auth::repo::users::by_email(&client, &email)
        .await?
        .context("no account has this email address")?;
    Ok(user.id)
}

async fn show(ctx: &CliContext, email: &str) -> anyhow::Result<()> {
    let user_id = user_id(ctx, email).await?;
    let mut entry = AuditEvent::UserPiiAccess.entry();
    entry.subject = Some(user_id.to_string());
    entry.details = json!({ "what": "book" });
    ctx.audit(entry).await?;
    let client = ctx.pool.get().await?;
    let Some(found) = repo::book(&client, user_id).await? else {
        bail!("this account has no book yet (it opens with the first trading request)");
    };
    let positions: Vec<_> = repo::positions(&client, user_id, true)
        .await?
        .into_iter()
        .map(|p| {
            json!({"symbol": p.symbol, "qty": p.qty.to_string(),
                   "cost_basis": p.cost_basis.to_string(),
                   "realized_pl": p.realized_pl.to_string()})
        })
        .collect();
    let reserved = repo::reserved(&client, user_id).await?;
    let body = json!({
        "user_id": user_id,
        "currency": found.currency,
        "initial_cash": found.initial_cash.to_string(),
        "cash": found.cash.to_string(),
        "reserved_by_open_buys": reserved.buys.to_string(),
        "positions": positions,
    });
    println!("{}", serde_json::to_string_pretty(&body)?);
    Ok(())
}

async fn adjust(ctx: &CliContext, email: &str, cash: &str, reason: &str) -> anyhow::Result<()> {
    let delta: Decimal = cash
        .trim()
        .parse()
        .context("--cash must be a decimal amount")?;
    if delta.is_zero() {
        bail!("--cash must not be zero");
    }
    let reason = crate::dsr::Reason::parse(reason).context("--reason must say why")?;
    let user_id = user_id(ctx, email).await?;
    let audit = ctx.audit_client();
    let cash = book::adjust(
        &ctx.pool,
        &audit,
        user_id,
        delta,
        reason.as_str(),
        Utc::now(),
    )
    .await?
    .context("this account has no book yet (it opens with the first trading request)")?;
    eprintln!("book of {user_id}: cash adjusted by {delta}, now {cash}");
    Ok(())
}

async fn reconcile(ctx: &CliContext) -> anyhow::Result<()> {
    let config = crate::startup::wiring::broker_config(&ctx.settings);
    let positions = raptor_actors::broker::account_positions(&config)
        .await
        .context("Alpaca's positions could not be read")?;
    let alpaca = drift::alpaca_totals(positions.as_str())
        .context("Alpaca's positions are not a list of positions")?;
    let books = drift::book_totals(&ctx.pool.get().await?).await?;
    let found = drift::drift(&books, &alpaca);
    println!("symbol\tbooks\talpaca\tdrift");
    for d in &found {
        println!(
            "{}\t{}\t{}\t{}",
            d.symbol,
            d.books,
            d.alpaca,
            d.alpaca - d.books
        );
    }
    if found.is_empty() {
        eprintln!("no drift: the books add up to Alpaca's positions");
        Ok(())
    } else {
        bail!("{} symbol(s) drift", found.len())
    }
}
