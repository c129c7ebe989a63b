//! The caller's own account and positions, as figures: cash and what open orders reserve from
//! the book, positions priced at the latest trade. Reading a book never calls Alpaca: a price is
//! market data's cached latest trade when fresh, else the last trade price Raptor saw
//! (`mark_prices`), else the position's own last fill.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use raptor_actors::market_data::{LatestKind, MarketDataClient};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::repo::{self, PositionRow, Reserved};
use crate::db::StorageError;
use crate::trading::risk::trade_price;

/// One position, priced.
#[derive(Debug, Clone)]
pub struct PositionView {
    pub symbol: String,
    pub asset_class: String,
    pub qty: Decimal,
    /// What the caller's open sells do not hold back.
    pub qty_available: Decimal,
    pub avg_entry_price: Decimal,
    pub cost_basis: Decimal,
    pub current_price: Decimal,
    pub market_value: Decimal,
    pub unrealized_pl: Decimal,
    /// `unrealized_pl / cost_basis` (0 when the cost is 0).
    pub unrealized_plpc: Decimal,
}

/// A book's account figures.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub currency: String,
    pub cash: Decimal,
    pub buying_power: Decimal,
    pub equity: Decimal,
    pub long_market_value: Decimal,
    pub last_equity: Decimal,
    pub realized_pl: Decimal,
    pub unrealized_pl: Decimal,
    pub initial_cash: Decimal,
}

/// `user_id`'s book, or `None` when it has none yet.
pub struct BookView {
    pub account: AccountView,
    pub positions: Vec<PositionView>,
}

/// Reads and prices `user_id`'s book.
pub async fn book(
    client: &impl GenericClient,
    market_data: &MarketDataClient,
    user_id: Uuid,
) -> Result<Option<BookView>, StorageError> {
    let Some(book) = repo::book(client, user_id).await? else {
        return Ok(None);
    };
    let rows = repo::positions(client, user_id, true).await?;
    let reserved = repo::reserved(client, user_id).await?;
    let prices = prices(client, market_data, &rows).await?;
    let last_equity = super::history::last_close_equity(client, user_id).await?;
    let realized_pl = rows.iter().map(|p| p.realized_pl).sum();
    let positions: Vec<PositionView> = rows
        .into_iter()
        .filter(|p| !p.qty.is_zero())
        .map(|p| priced(p, &prices, &reserved))
        .collect();
    let market_value: Decimal = positions.iter().map(|p| p.market_value).sum();
    let equity = book.cash + market_value;
    let account = AccountView {
        currency: book.currency,
        cash: book.cash,
        buying_power: (book.cash - reserved.buys).max(Decimal::ZERO),
        equity,
        long_market_value: positions
            .iter()
            .filter(|p| p.qty > Decimal::ZERO)
            .map(|p| p.market_value)
            .sum(),
        last_equity: last_equity.unwrap_or(book.initial_cash),
        realized_pl,
        unrealized_pl: positions.iter().map(|p| p.unrealized_pl).sum(),
        initial_cash: book.initial_cash,
    };
    Ok(Some(BookView { account, positions }))
}

/// The price of each position's symbol, without calling Alpaca.
async fn prices(
    client: &impl GenericClient,
    market_data: &MarketDataClient,
    rows: &[PositionRow],
) -> Result<HashMap<String, Decimal>, StorageError> {
    let now = tokio::time::Instant::now();
    let mut prices = HashMap::new();
    let mut unknown = Vec::new();
    for row in rows.iter().filter(|r| !r.qty.is_zero()) {
        let cached = market_data
            .cache()
            .get(LatestKind::Trades, &row.symbol, now)
            .flatten()
            .and_then(|raw| trade_price(&raw));
        match cached {
            Some(price) => {
                prices.insert(row.symbol.clone(), price);
            }
            None => unknown.push(row.symbol.clone()),
        }
    }
    if !unknown.is_empty() {
        prices.extend(repo::marks(client, &unknown).await?);
    }
    for row in rows {
        prices
            .entry(row.symbol.clone())
            .or_insert(row.last_fill_price);
    }
    Ok(prices)
}

fn priced(
    row: PositionRow,
    prices: &HashMap<String, Decimal>,
    reserved: &Reserved,
) -> PositionView {
    let price = prices
        .get(&row.symbol)
        .copied()
        .unwrap_or(row.last_fill_price);
    let market_value = row.qty * price;
    let unrealized_pl = market_value - row.cost_basis;
    let held_back = reserved.sells.get(&row.symbol).copied().unwrap_or_default();
    PositionView {
        qty_available: (row.qty - held_back).max(Decimal::ZERO),
        avg_entry_price: if row.qty.is_zero() {
            Decimal::ZERO
        } else {
            row.cost_basis / row.qty
        },
        current_price: price,
        market_value,
        unrealized_pl,
        unrealized_plpc: if row.cost_basis.is_zero() {
            Decimal::ZERO
        } else {
            unrealized_pl / row.cost_basis
        },
        symbol: row.symbol,
        asset_class: row.asset_class,
        qty: row.qty,
        cost_basis: row.cost_basis,
    }
}
