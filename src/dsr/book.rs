//! The paper book in a data-subject export: the book, its positions, every fill, adjustment and
//! close snapshot (amounts as decimal strings).

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::GenericClient;
use rust_decimal::Decimal;
use serde::Serialize;
use uuid::Uuid;

use crate::db::StorageError;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BookRecord {
    pub currency: String,
    pub initial_cash: String,
    pub cash: String,
    pub opened_at: DateTime<Utc>,
    pub positions: Vec<PositionRecord>,
    pub fills: Vec<FillRecord>,
    pub adjustments: Vec<AdjustmentRecord>,
    pub snapshots: Vec<SnapshotRecord>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PositionRecord {
    pub symbol: String,
    pub qty: String,
    pub cost_basis: String,
    pub realized_pl: String,
}

/// One execution as recorded: the order's cumulative figures after it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FillRecord {
    pub alpaca_order_id: String,
    pub symbol: String,
    pub side: String,
    pub cum_qty: String,
    pub cum_notional: String,
    pub execution_id: Option<String>,
    pub filled_at: DateTime<Utc>,
    pub source: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdjustmentRecord {
    pub delta: String,
    pub reason: String,
    pub made_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SnapshotRecord {
    pub day: NaiveDate,
    pub equity: String,
    pub cash: String,
}

fn text(value: Decimal) -> String {
    value.normalize().to_string()
}

/// `user_id`'s book, if one was opened.
pub async fn read_book(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Option<BookRecord>, StorageError> {
    let Some(book) = client
        .query_opt(
            "SELECT currency, initial_cash, cash, opened_at FROM books WHERE user_id = $1",
            &[&user_id],
        )
        .await?
    else {
        return Ok(None);
    };
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&user_id];
    let rows = |sql: &'static str| client.query(sql, &params);
    let positions = rows(
        "SELECT symbol, qty, cost_basis, realized_pl FROM book_positions \
         WHERE user_id = $1 ORDER BY symbol",
    )
    .await?
    .into_iter()
    .map(|r| PositionRecord {
        symbol: r.get(0),
        qty: text(r.get(1)),
        cost_basis: text(r.get(2)),
        realized_pl: text(r.get(3)),
    })
    .collect();
    let fills = rows(
        "SELECT alpaca_order_id, symbol, side, cum_qty, cum_notional, execution_id, filled_at, \
         source FROM fills WHERE user_id = $1 ORDER BY filled_at, alpaca_order_id, cum_qty",
    )
    .await?
    .into_iter()
    .map(|r| FillRecord {
        alpaca_order_id: r.get(0),
        symbol: r.get(1),
        side: r.get(2),
        cum_qty: text(r.get(3)),
        cum_notional: text(r.get(4)),
        execution_id: r.get(5),
        filled_at: r.get(6),
        source: r.get(7),
    })
    .collect();
    let adjustments = rows(
        "SELECT delta, reason, made_at FROM book_adjustments WHERE user_id = $1 ORDER BY made_at",
    )
    .await?
    .into_iter()
    .map(|r| AdjustmentRecord {
        delta: text(r.get(0)),
        reason: r.get(1),
        made_at: r.get(2),
    })
    .collect();
    let snapshots =
        rows("SELECT day, equity, cash FROM book_snapshots WHERE user_id = $1 ORDER BY day")
            .await?
            .into_iter()
            .map(|r| SnapshotRecord {
                day: r.get(0),
                equity: text(r.get(1)),
                cash: text(r.get(2)),
            })
            .collect();
    Ok(Some(BookRecord {
        currency: book.get(0),
        initial_cash: text(book.get(1)),
        cash: text(book.get(2)),
        opened_at: book.get(3),
        positions,
        fills,
        adjustments,
        snapshots,
    }))
}
