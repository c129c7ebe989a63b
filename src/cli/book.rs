//! `raptor book show --email E`, `raptor book adjust --email E --cash DELTA --reason R` and
//! `raptor book reconcile`: the operator's side of the paper books (docs/trading.md "Books").
//!
//! `show` prints the book as JSON (audited as `user.pii_access`, like an export); `adjust`
//! calls `crate::trading::book::adjust`, which audits `book.adjust` before it writes; `reconcile`
//! compares the books together with Alpaca's positions and exits non-zero on drift.

use anyhow::{bail, Context};
use chrono::Utc;
use rust_decimal::Decimal;

use super::CliContext;
use crate::auth::Email;
use crate::trading::book::operator;

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

fn email(raw: &str) -> anyhow::Result<Email> {
    Email::parse(raw).context("--email is not a valid address")
}

async fn show(ctx: &CliContext, email: &str) -> anyhow::Result<()> {
    let email = self::email(email)?;
    let book = operator::show(&ctx.pool, &ctx.audit_client(), &email).await?;
    println!("{}", serde_json::to_string_pretty(&book)?);
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
    let email = self::email(email)?;
    let audit = ctx.audit_client();
    let adjusted = operator::adjust_cash(
        &ctx.pool,
        &audit,
        &email,
        delta,
        reason.as_str(),
        Utc::now(),
    )
    .await?;
    eprintln!(
        "book of {}: cash adjusted by {delta}, now {}",
        adjusted.user_id, adjusted.cash
    );
    Ok(())
}

async fn reconcile(ctx: &CliContext) -> anyhow::Result<()> {
    let config = crate::startup::wiring::broker_config(&ctx.settings);
    let found = operator::reconcile(&ctx.pool, &config).await?;
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
