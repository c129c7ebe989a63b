//! Alpaca's assets, from Postgres: what may be traded and how (issue 26 item 5, issue 24 item 8).
//!
//! A worker keeps a copy of Alpaca's active assets ([`refresh`], daily, once across workers);
//! a symbol not in it is asked of Alpaca once (`GET /v2/assets/{symbol}`) and the answer, an
//! asset or "no such symbol", is kept a day ([`LOOKUP_LIFETIME`]), so a symbol never costs more
//! than one call a day, whoever asks. [`search`] and [`get_asset`] serve `GET /api/assets`;
//! [`for_order`] is what an order is checked against before any broker call: the asset class
//! comes from the asset (`BTCUSD` is crypto), never from the symbol's spelling.

pub mod refresh;
pub mod repo;

use chrono::Duration;
use raptor_actors::broker::{BrokerAsset, BrokerError};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::order::{OrderKind, OrderRequest, OrderSize, Symbol, TimeInForce};
use super::Trading;
use crate::db::StorageError;
use crate::input::{InvalidInput, Problems};

pub use repo::Filter;

/// How long the answer of one lookup is used.
pub const LOOKUP_LIFETIME: Duration = Duration::days(1);
/// The most assets one `GET /api/assets` answers.
pub const MAX_LIMIT: i64 = 1_000;
/// How many it answers when not told.
pub const DEFAULT_LIMIT: i64 = 100;

/// Why an asset could not be had.
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    /// Alpaca knows no such symbol.
    #[error("no such asset")]
    NotFound,
    /// The caller's share of the trading lane is spent; nothing was sent.
    #[error("too many broker calls")]
    TooMany { retry_after: std::time::Duration },
    /// Looking it up at Alpaca failed (the kill switch included).
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Storage(#[from] StorageError),
}
crate::db::storage_errors!(AssetError);

/// Why an order's asset refuses it: unknown, inactive or not tradable (`asset_not_tradable`),
/// or the order asks what the asset does not allow (`invalid_order`, field by field).
#[derive(Debug, thiserror::Error)]
pub enum NotTradable {
    #[error("{0}")]
    Asset(String),
    #[error(transparent)]
    Invalid(InvalidInput),
}

/// The parameters of `GET /api/assets`, as sent.
#[derive(Debug, Default)]
pub struct RawFilter<'a> {
    pub search: Option<&'a str>,
    pub asset_class: Option<&'a str>,
    pub status: Option<&'a str>,
    pub limit: Option<&'a str>,
}

impl Filter {
    /// Checks every parameter; all problems at once.
    pub fn parse(raw: RawFilter<'_>) -> Result<Self, InvalidInput> {
        let mut p = Problems::default();
        let search = raw.search.map(str::trim).filter(|s| !s.is_empty());
        let search = match search {
            Some(s) if s.chars().count() > 64 || s.chars().any(char::is_control) => {
                p.add("search", "must be at most 64 printable characters");
                None
            }
            other => other.map(str::to_owned),
        };
        let class = match raw.asset_class {
            None => None,
            Some(c @ ("us_equity" | "us_option" | "crypto")) => Some(c.to_owned()),
            Some(_) => {
                p.add("asset_class", "must be us_equity, us_option or crypto");
                None
            }
        };
        let status = match raw.status {
            None => None,
            Some(s @ ("active" | "inactive")) => Some(s.to_owned()),
            Some(_) => {
                p.add("status", "must be active or inactive");
                None
            }
        };
        let limit = match raw.limit.map(str::parse::<i64>) {
            None => DEFAULT_LIMIT,
            Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(_) => {
                p.add("limit", format!("must be a number from 1 to {MAX_LIMIT}"));
                DEFAULT_LIMIT
            }
        };
        p.finish(|| {
            Some(Self {
                search,
                class,
                status,
                limit,
            })
        })
    }
}

/// `GET /api/assets`: the assets `filter` picks, from Postgres only.
pub async fn search(
    trading: &Trading<'_>,
    filter: &Filter,
) -> Result<Vec<BrokerAsset>, AssetError> {
    let since = trading.clock.now() - LOOKUP_LIFETIME;
    let client = trading.pool.get().await?;
    Ok(repo::search(&client, filter, since).await?)
}

/// The asset `symbol`: from the copy, else from a lookup of the last day, else asked of Alpaca
/// (and kept a day, "no such symbol" too). A call to Alpaca is charged to `charge`'s share of
/// the trading lane, when given. No connection is held while Alpaca is asked.
pub async fn get_asset(
    trading: &Trading<'_>,
    symbol: &Symbol,
    charge: Option<Uuid>,
) -> Result<BrokerAsset, AssetError> {
    let asked = symbol.as_str();
    let now = trading.clock.now();
    let since = now - LOOKUP_LIFETIME;
    {
        let client = trading.pool.get().await?;
        if let Some(asset) = repo::fresh(&client, asked, since).await? {
            return Ok(asset);
        }
        match repo::looked_up(&client, asked, since).await? {
            Some(Some(asset)) => return Ok(asset),
            Some(None) => return Err(AssetError::NotFound),
            None => {}
        }
    }
    if let Some(user_id) = charge {
        let spent = trading.lane_share.take(user_id);
        spent.map_err(|retry_after| AssetError::TooMany { retry_after })?;
    }
    let found = match trading.broker.asset(asked).await {
        Ok(asset) => Some(asset),
        Err(BrokerError::NotFound) => None,
        Err(error) => return Err(error.into()),
    };
    let client = trading.pool.get().await?;
    repo::store_lookup(&client, asked, found.as_ref(), now).await?;
    found.ok_or(AssetError::NotFound)
}

/// The asset `order` trades, if it may be traded this way: known, `active` and `tradable`; a
/// fractional `qty` only when it is `fractionable`, a `notional` likewise (Alpaca's rules).
pub async fn for_order(
    trading: &Trading<'_>,
    order: &OrderRequest,
) -> Result<Result<BrokerAsset, NotTradable>, AssetError> {
    let asset = match get_asset(trading, &order.symbol, None).await {
        Ok(asset) => asset,
        Err(AssetError::NotFound) => {
            let message = format!("{} is not an asset the broker knows", order.symbol);
            return Ok(Err(NotTradable::Asset(message)));
        }
        Err(error) => return Err(error),
    };
    Ok(check(order, &asset).map(|()| asset))
}

/// Alpaca's rules for trading `asset` with `order`: active and tradable; a fractional `qty`
/// or a `notional` only when it is `fractionable`; a `notional` only for a market order, `day`
/// for an equity (`gtc` or `ioc` for crypto, which has no `day`); `extended_hours` only for a
/// limit order with `day`.
pub fn check(order: &OrderRequest, asset: &BrokerAsset) -> Result<(), NotTradable> {
    if asset.status != "active" || !asset.tradable {
        let why = if asset.status == "active" {
            "the broker does not trade it"
        } else {
            "inactive"
        };
        return Err(NotTradable::Asset(format!(
            "{} is not tradable: {why}",
            asset.symbol
        )));
    }
    let mut p = Problems::default();
    match order.size {
        OrderSize::Qty(qty) if qty.get().fract() != Decimal::ZERO && !asset.fractionable => {
            let problem = format!("{} is not fractionable: whole shares only", asset.symbol);
            p.add("qty", problem);
        }
        OrderSize::Notional(_) if !asset.fractionable => {
            let problem = format!("{} is not fractionable: give qty instead", asset.symbol);
            p.add("notional", problem);
        }
        OrderSize::Notional(_) => {
            let crypto = asset.class == "crypto";
            let tif_ok = match order.time_in_force {
                TimeInForce::Day => !crypto,
                TimeInForce::Gtc | TimeInForce::Ioc => crypto,
                _ => false,
            };
            if order.kind != OrderKind::Market || !tif_ok {
                let tif = if crypto { "gtc or ioc" } else { "day" };
                p.add("notional", format!("is only for market orders with {tif}"));
            }
        }
        OrderSize::Qty(_) => {}
    }
    let limit_day =
        matches!(order.kind, OrderKind::Limit { .. }) && order.time_in_force == TimeInForce::Day;
    if order.extended_hours && !limit_day {
        p.add("extended_hours", "is only for limit orders with day");
    }
    p.finish(|| Some(())).map_err(NotTradable::Invalid)
}

#[cfg(test)]
mod tests;
