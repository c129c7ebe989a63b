//! The books' SQL: the only code that knows `books`, `fills`, `book_positions`,
//! `book_adjustments` and `mark_prices`. Writers run inside a transaction that holds the user's
//! order lock ([`crate::trading::ledger::lock_user`]), so a fill, an adjustment and a pre-trade
//! check of one user never interleave.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::fold::{executions, FillRow, FillSide, Holding};
use super::FillReport;
use crate::trading::ledger::open::OPEN_ORDER;

/// A book's own row.
#[derive(Debug, Clone)]
pub struct BookRow {
    pub currency: String,
    pub initial_cash: Decimal,
    pub cash: Decimal,
}

/// One row of `book_positions`.
#[derive(Debug, Clone)]
pub struct PositionRow {
    pub symbol: String,
    pub asset_class: String,
    pub qty: Decimal,
    pub cost_basis: Decimal,
    pub realized_pl: Decimal,
    pub last_fill_price: Decimal,
}

/// What a user's open orders hold back: money for buys, shares per symbol for sells.
#[derive(Debug, Clone, Default)]
pub struct Reserved {
    pub buys: Decimal,
    pub sells: HashMap<String, Decimal>,
}

/// Opens `user_id`'s book with `initial_cash`; `false` when it was open already.
pub async fn open(
    client: &impl GenericClient,
    user_id: Uuid,
    initial_cash: Decimal,
    now: DateTime<Utc>,
) -> Result<bool, tokio_postgres::Error> {
    let inserted = client
        .execute(
            "INSERT INTO books (user_id, initial_cash, cash, opened_at, updated_at) \
             VALUES ($1, $2, $2, $3, $3) ON CONFLICT DO NOTHING",
            &[&user_id, &initial_cash, &now],
        )
        .await?;
    Ok(inserted == 1)
}

pub async fn book(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Option<BookRow>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT currency, initial_cash, cash FROM books WHERE user_id = $1",
            &[&user_id],
        )
        .await?;
    Ok(row.map(|r| BookRow {
        currency: r.get(0),
        initial_cash: r.get(1),
        cash: r.get(2),
    }))
}

/// The user's positions with a quantity (flat ones only when `with_flat`), by symbol.
pub async fn positions(
    client: &impl GenericClient,
    user_id: Uuid,
    with_flat: bool,
) -> Result<Vec<PositionRow>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT symbol, asset_class, qty, cost_basis, realized_pl, last_fill_price \
             FROM book_positions WHERE user_id = $1 AND ($2 OR qty <> 0) ORDER BY symbol",
            &[&user_id, &with_flat],
        )
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| PositionRow {
            symbol: r.get(0),
            asset_class: r.get(1),
            qty: r.get(2),
            cost_basis: r.get(3),
            realized_pl: r.get(4),
            last_fill_price: r.get(5),
        })
        .collect())
}

/// What `user_id`'s open orders reserve. An order reserves what is left of it: a buy, its
/// remaining quantity at its estimated price (or its remaining notional); a sell, its remaining
/// quantity (a notional sell, its remaining amount at its estimated price). Legs reserve nothing
/// while their parent is open (its reservation is the whole order's); once the entry has filled,
/// its open exit legs hold back the shares they would sell, once per parent (a bracket's two
/// exits are alternatives), so the position cannot be sold twice.
pub async fn reserved(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Reserved, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!(
                "SELECT side, symbol, \
                   COALESCE(sum(CASE WHEN notional IS NOT NULL \
                     THEN greatest(notional - filled_notional, 0) \
                     ELSE greatest(qty - filled_qty, 0) * reserve_price END), 0), \
                   COALESCE(sum(CASE WHEN qty IS NOT NULL THEN greatest(qty - filled_qty, 0) \
                     ELSE greatest(notional - filled_notional, 0) / reserve_price END), 0) \
                 FROM orders WHERE user_id = $1 AND reserve_price IS NOT NULL AND {OPEN_ORDER} \
                 GROUP BY side, symbol"
            ),
            &[&user_id],
        )
        .await?;
    let mut reserved = Reserved::default();
    for row in rows {
        let (side, symbol): (String, String) = (row.get(0), row.get(1));
        match side.as_str() {
            "buy" => reserved.buys += row.get::<_, Decimal>(2),
            _ => {
                *reserved.sells.entry(symbol).or_default() += row.get::<_, Decimal>(3);
            }
        }
    }
    for (symbol, qty) in exits_held(client, user_id).await? {
        *reserved.sells.entry(symbol).or_default() += qty;
    }
    Ok(reserved)
}

/// The shares `user_id`'s open exit legs hold back, per parent that is no longer open (its
/// entry filled): the largest remaining quantity among its open sell legs.
async fn exits_held(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Vec<(String, Decimal)>, tokio_postgres::Error> {
    let rows = client
        .query(
            &format!(
                "SELECT symbol, max(greatest(qty - filled_qty, 0)) FROM orders \
                 WHERE user_id = $1 AND side = 'sell' AND parent_id IS NOT NULL \
                   AND reserve_price IS NULL AND qty IS NOT NULL AND {OPEN_ORDER} \
                   AND parent_id IN (SELECT id FROM orders WHERE user_id = $1 AND NOT {OPEN_ORDER}) \
                 GROUP BY parent_id, symbol"
            ),
            &[&user_id],
        )
        .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Records `report` for `user_id` (nil: the operator book); `false` when this execution was
/// recorded before.
pub async fn insert_fill(
    client: &impl GenericClient,
    user_id: Uuid,
    order_id: Option<Uuid>,
    report: &FillReport,
    now: DateTime<Utc>,
) -> Result<bool, tokio_postgres::Error> {
    let inserted = client
        .execute(
            "INSERT INTO fills (alpaca_order_id, cum_qty, cum_notional, user_id, order_id, \
             symbol, side, execution_id, filled_at, source, recorded_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING",
            &[
                &report.alpaca_order_id,
                &report.cum_qty,
                &report.cum_notional,
                &user_id,
                &order_id,
                &report.symbol,
                &report.side.as_str(),
                &report.execution_id,
                &report.filled_at,
                &report.source.as_str(),
                &now,
            ],
        )
        .await?;
    Ok(inserted == 1)
}

/// Re-folds `user_id`'s fills in `symbol` into its position row.
pub async fn refold(
    client: &impl GenericClient,
    user_id: Uuid,
    symbol: &str,
    asset_class: &str,
    now: DateTime<Utc>,
) -> Result<(), tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT alpaca_order_id, side, cum_qty, cum_notional, filled_at FROM fills \
             WHERE user_id = $1 AND symbol = $2",
            &[&user_id, &symbol],
        )
        .await?;
    let rows: Vec<FillRow> = rows
        .into_iter()
        .filter_map(|r| {
            Some(FillRow {
                order: r.get(0),
                side: FillSide::parse(r.get(1))?,
                cum_qty: r.get(2),
                cum_notional: r.get(3),
                filled_at: r.get(4),
            })
        })
        .collect();
    let executions = executions(&rows);
    let holding = Holding::fold(&executions);
    let last_price = executions
        .last()
        .map_or(Decimal::ZERO, |e| (e.notional / e.qty).round_dp(6));
    client
        .execute(
            "INSERT INTO book_positions (user_id, symbol, asset_class, qty, cost_basis, \
             realized_pl, last_fill_price, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (user_id, symbol) DO UPDATE SET qty = $4, cost_basis = $5, \
             realized_pl = $6, last_fill_price = $7, updated_at = $8",
            &[
                &user_id,
                &symbol,
                &asset_class,
                &holding.qty,
                &holding.cost_basis,
                &holding.realized_pl,
                &last_price,
                &now,
            ],
        )
        .await?;
    Ok(())
}

/// Recomputes `user_id`'s cash: the initial cash, the adjustments, and each order's newest
/// cumulative amount (received for sells, paid for buys).
pub async fn refresh_cash(
    client: &impl GenericClient,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE books SET cash = initial_cash \
               + COALESCE((SELECT sum(delta) FROM book_adjustments WHERE user_id = $1), 0) \
               + COALESCE((SELECT sum(CASE side WHEN 'sell' THEN cum_notional \
                   ELSE -cum_notional END) FROM (SELECT DISTINCT ON (alpaca_order_id) side, \
                   cum_notional FROM fills WHERE user_id = $1 \
                   ORDER BY alpaca_order_id, cum_qty DESC) newest), 0), \
               updated_at = $2 \
             WHERE user_id = $1",
            &[&user_id, &now],
        )
        .await?;
    Ok(())
}

/// Sets the ledger order's filled figures from its newest recorded fill.
pub async fn refresh_order_fill(
    client: &impl GenericClient,
    alpaca_order_id: &str,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE orders o SET filled_qty = f.cum_qty, filled_notional = f.cum_notional \
             FROM (SELECT cum_qty, cum_notional FROM fills WHERE alpaca_order_id = $1 \
                   ORDER BY cum_qty DESC LIMIT 1) f \
             WHERE o.alpaca_order_id = $1",
            &[&alpaca_order_id],
        )
        .await?;
    Ok(())
}

/// Records an operator's cash adjustment.
pub async fn insert_adjustment(
    client: &impl GenericClient,
    user_id: Uuid,
    delta: Decimal,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO book_adjustments (id, user_id, delta, reason, made_at) \
             VALUES ($1, $2, $3, $4, $5)",
            &[&Uuid::new_v4(), &user_id, &delta, &reason, &now],
        )
        .await?;
    Ok(())
}

/// The last known trade price of each of `symbols` (those known).
pub async fn marks(
    client: &impl GenericClient,
    symbols: &[String],
) -> Result<HashMap<String, Decimal>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT symbol, price FROM mark_prices WHERE symbol = ANY($1)",
            &[&symbols],
        )
        .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Remembers `price` as `symbol`'s last trade price when it is newer than the one known.
pub async fn put_mark(
    client: &impl GenericClient,
    symbol: &str,
    price: Decimal,
    at: DateTime<Utc>,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "INSERT INTO mark_prices (symbol, price, at) VALUES ($1, $2, $3) \
             ON CONFLICT (symbol) DO UPDATE SET price = $2, at = $3 WHERE mark_prices.at <= $3",
            &[&symbol, &price, &at],
        )
        .await?;
    Ok(())
}
