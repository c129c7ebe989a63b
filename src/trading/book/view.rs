//! The caller's own account and positions, as figures: cash and what open orders reserve from
//! the book, positions priced at the latest trade. Reading a book never calls Alpaca: a price is
//! market data's cached latest trade when fresh, else the last trade price Raptor saw
//! (`mark_prices`), else the position's own last fill.

use std::collections::HashMap;

use deadpool_postgres::GenericClient;
use raptor_actors::market_data::{LatestKind, MarketDataClient};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::repo::{self, BookRow, PositionRow, Reserved};
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

/// A book as stored, before pricing: what [`super::cache`] keeps.
pub struct RawBook {
    book: BookRow,
    positions: Vec<PositionRow>,
    reserved: Reserved,
    last_equity: Option<Decimal>,
    /// The last trade price Raptor saw of each held symbol.
    marks: HashMap<String, Decimal>,
}

/// Reads `user_id`'s book, `None` when it has none yet.
pub async fn load(
    client: &impl GenericClient,
    user_id: Uuid,
) -> Result<Option<RawBook>, StorageError> {
    let Some(book) = repo::book(client, user_id).await? else {
        return Ok(None);
    };
    let positions = repo::positions(client, user_id, true).await?;
    let reserved = repo::reserved(client, user_id).await?;
    let last_equity = super::history::last_close_equity(client, user_id).await?;
    let held: Vec<String> = positions
        .iter()
        .filter(|p| !p.qty.is_zero())
        .map(|p| p.symbol.clone())
        .collect();
    let marks = if held.is_empty() {
        HashMap::new()
    } else {
        repo::marks(client, &held).await?
    };
    Ok(Some(RawBook {
        book,
        positions,
        reserved,
        last_equity,
        marks,
    }))
}

/// Reads and prices `user_id`'s book.
pub async fn book(
    client: &impl GenericClient,
    market_data: &MarketDataClient,
    user_id: Uuid,
) -> Result<Option<BookView>, StorageError> {
    Ok(load(client, user_id)
        .await?
        .map(|raw| priced_book(&raw, market_data)))
}

/// Prices a book read before, without calling Alpaca or the database.
pub fn priced_book(raw: &RawBook, market_data: &MarketDataClient) -> BookView {
    let (book, reserved) = (&raw.book, &raw.reserved);
    let rows = &raw.positions;
    let prices = prices(market_data, raw);
    let last_equity = raw.last_equity;
    let realized_pl = rows.iter().map(|p| p.realized_pl).sum();
    let positions: Vec<PositionView> = rows
        .iter()
        .filter(|p| !p.qty.is_zero())
        .map(|p| priced(p.clone(), &prices, reserved))
        .collect();
    let market_value: Decimal = positions.iter().map(|p| p.market_value).sum();
    let equity = book.cash + market_value;
    let account = AccountView {
        currency: book.currency.clone(),
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
    BookView { account, positions }
}

/// The price of each position's symbol, without calling Alpaca.
fn prices(market_data: &MarketDataClient, raw: &RawBook) -> HashMap<String, Decimal> {
    let now = tokio::time::Instant::now();
    raw.positions
        .iter()
        .filter(|r| !r.qty.is_zero())
        .map(|row| {
            let cached = market_data
                .cache()
                .get(LatestKind::Trades, &row.symbol, now)
                .flatten()
                .and_then(|raw| trade_price(&raw));
            let price = cached
                .or_else(|| raw.marks.get(&row.symbol).copied())
                .unwrap_or(row.last_fill_price);
            (row.symbol.clone(), price)
        })
        .collect()
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
