//! The read-only use cases: `mode` (what the broker is and why trading is off, if it is),
//! `readiness`, and [`book`]: the caller's own account and positions from their paper book
//! (never the shared account's, which only operators see: [`shared_account`]).

use raptor_actors::broker::{BrokerError, BrokerJson, BrokerKind, BrokerStatus};
use raptor_actors::ActorUnavailable;

use uuid::Uuid;

use super::book::history::{self, History, Period};
use super::book::view::{self, BookView};
use super::book::{self, OpenError};
use super::error::{ReadError, ReadinessError};
use super::{Trader, Trading};

/// The broker's kind and kill-switch state; answered even while the switch is engaged.
pub async fn mode(trading: Trading<'_>) -> Result<BrokerStatus, ActorUnavailable> {
    trading.broker.status().await
}

/// `Disabled` while the kill switch is engaged, so nothing is recorded or sent.
pub(crate) async fn ensure_enabled(trading: &Trading<'_>) -> Result<BrokerStatus, BrokerError> {
    let status = trading
        .broker
        .status()
        .await
        .map_err(|_| BrokerError::Unavailable)?;
    match &status.engaged {
        Some((_, reason)) => Err(BrokerError::Disabled(reason.clone())),
        None => Ok(status),
    }
}

/// Ready: the switch is released and the broker answers with our credentials.
pub async fn readiness(trading: Trading<'_>) -> Result<BrokerKind, ReadinessError> {
    let status = trading.broker.status().await?;
    if let Some((_, reason)) = status.engaged {
        return Err(ReadinessError::Disabled(reason));
    }
    match trading.broker.check().await {
        Ok(()) => Ok(status.kind),
        Err(BrokerError::Disabled(reason)) => Err(ReadinessError::Disabled(reason)),
        Err(error) => Err(ReadinessError::NotReady(error)),
    }
}

/// Opens `user_id`'s book if it has none yet (audited first).
pub(crate) async fn ensure_book(trading: &Trading<'_>, user_id: Uuid) -> Result<(), OpenError> {
    book::open_book(
        trading.pool,
        trading.audit,
        user_id,
        trading.risk.initial_cash,
        trading.clock.now(),
    )
    .await
}

/// The trader's own book, priced: account figures and positions. Reads Postgres (and market
/// data's cache), never Alpaca.
pub async fn book(trading: Trading<'_>, trader: &Trader) -> Result<BookView, ReadError> {
    ensure_enabled(&trading).await?;
    if let Some(raw) = trading.books.book(trader.user_id) {
        return Ok(view::priced_book(&raw, trading.market_data));
    }
    for _ in 0..2 {
        // One snapshot: a fill commits cash and position together, and is read together.
        let ticket = trading.books.ticket(trader.user_id);
        let found = {
            let mut client = trading.pool.get().await?;
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            let found = view::load(&tx, trader.user_id).await?;
            tx.commit().await?;
            found
        };
        if let Some(raw) = found {
            let raw = std::sync::Arc::new(raw);
            trading.books.put_book(ticket, raw.clone());
            return Ok(view::priced_book(&raw, trading.market_data));
        }
        ensure_book(&trading, trader.user_id).await?;
    }
    Err(ReadError::Corrupt("a book just opened cannot be read"))
}

/// The trader's equity after each US close over `period`, and now.
pub async fn portfolio_history(
    trading: Trading<'_>,
    trader: &Trader,
    period: Period,
) -> Result<History, ReadError> {
    let book = book(trading, trader).await?;
    let client = trading.pool.get().await?;
    Ok(history::history(
        &client,
        trader.user_id,
        period,
        book.account.equity,
        book.account.initial_cash,
        trading.clock.now(),
    )
    .await?)
}

/// The paper account as Alpaca sent it: the shared account's own figures, for operators.
pub async fn shared_account(trading: Trading<'_>) -> Result<BrokerJson, ReadError> {
    Ok(trading.broker.account().await?)
}

/// The shared account's positions as Alpaca sent them, for operators.
pub async fn shared_positions(trading: Trading<'_>) -> Result<BrokerJson, ReadError> {
    Ok(trading.broker.positions().await?)
}
