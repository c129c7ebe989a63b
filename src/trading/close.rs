//! Closing what a trader owns (issue 26 item 4): `close_position` sells the caller's own
//! quantity from their book with a market order, `close_all` does so for each of their
//! positions, and `cancel_all` cancels each of their open orders. Each is built from the use
//! cases of one order ([`submit_order`], [`cancel_order`]), so every order belongs to its
//! submitter, reserves in their book, is audited and appears in their list and stream. None
//! ever calls Alpaca's account-wide `DELETE /v2/positions` or `DELETE /v2/orders`, which would
//! touch every other user's positions and orders on the shared account.

use rust_decimal::{Decimal, RoundingStrategy};

use super::error::{CancelError, ReadError, SubmitError};
use super::order::{OrderDraft, Positive, Symbol, MAX_DECIMAL_PLACES};
use super::orders::cancel_order;
use super::submit::{submit_order, Submitted};
use super::{account, assets, ledger, Trader, Trading};
use crate::input::{InvalidInput, Problems};

/// How much of a position to close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseAmount {
    /// All that open sells do not already hold back.
    All,
    /// This many shares.
    Qty(Positive),
    /// This share of what is available, more than 0 and at most 100.
    Percentage(Decimal),
}

impl CloseAmount {
    /// `qty` or `percentage` (Alpaca's parameters), at most one; neither closes all.
    pub fn parse(qty: Option<&str>, percentage: Option<&str>) -> Result<Self, InvalidInput> {
        let mut p = Problems::default();
        let number = |raw: &str| {
            raw.trim()
                .parse::<Decimal>()
                .map_err(|_| "must be a number")
        };
        let amount = match (qty, percentage) {
            (Some(_), Some(_)) => {
                p.add("percentage", "give qty or percentage, not both");
                None
            }
            (Some(raw), None) => p
                .take(
                    "qty",
                    number(raw).map_err(str::to_owned).and_then(Positive::parse),
                )
                .map(CloseAmount::Qty),
            (None, Some(raw)) => match number(raw) {
                Ok(share) if share > Decimal::ZERO && share <= Decimal::ONE_HUNDRED => {
                    Some(CloseAmount::Percentage(share))
                }
                _ => {
                    p.add("percentage", "must be a number above 0 and at most 100");
                    None
                }
            },
            (None, None) => Some(CloseAmount::All),
        };
        p.finish(|| amount)
    }

    /// The shares to sell of `available`; whole shares only when not `fractionable`.
    pub fn of(self, available: Decimal, fractionable: bool) -> Decimal {
        let places = if fractionable { MAX_DECIMAL_PLACES } else { 0 };
        let round = |d: Decimal| d.round_dp_with_strategy(places, RoundingStrategy::ToZero);
        match self {
            CloseAmount::All => round(available),
            CloseAmount::Qty(qty) => qty.get(),
            CloseAmount::Percentage(share) => round(available * share / Decimal::ONE_HUNDRED),
        }
    }
}

/// Why a position was not closed.
#[derive(Debug, thiserror::Error)]
pub enum CloseError {
    /// The caller holds none of it (or nothing of it is left to sell).
    #[error("no such position")]
    NoPosition,
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The sell itself was not placed (its checks, or the broker).
    #[error(transparent)]
    Submit(#[from] SubmitError),
}

/// `DELETE /api/trading/positions/{symbol}`: sells `amount` of the caller's position in
/// `symbol` with a market order (`day`; `gtc` for crypto), under `header_key` if given.
pub async fn close_position(
    trading: Trading<'_>,
    trader: &Trader,
    header_key: Option<&str>,
    symbol: &str,
    amount: CloseAmount,
) -> Result<Submitted, CloseError> {
    let symbol = Symbol::parse(symbol).map_err(|_| CloseError::NoPosition)?;
    let book = account::book(trading, trader).await?;
    let asset = assets::get_asset(&trading, &symbol, None)
        .await
        .map_err(|e| match e {
            assets::AssetError::NotFound => CloseError::NoPosition,
            other => CloseError::Submit(other.into()),
        })?;
    let held = |p: &&super::book::view::PositionView| {
        (p.symbol == symbol.as_str() || p.symbol == asset.symbol) && p.qty > Decimal::ZERO
    };
    let position = book
        .positions
        .iter()
        .find(held)
        .ok_or(CloseError::NoPosition)?;
    let qty = amount.of(position.qty_available, asset.fractionable);
    if qty <= Decimal::ZERO {
        let problem = "nothing of this position is left to sell (open sells hold it back)";
        return Err(SubmitError::Invalid(InvalidInput::single("qty", problem)).into());
    }
    let tif = if asset.class == "crypto" {
        "gtc"
    } else {
        "day"
    };
    let draft = OrderDraft {
        symbol: Some(position.symbol.clone()),
        qty: Some(qty),
        side: Some("sell".into()),
        order_type: Some("market".into()),
        time_in_force: Some(tif.into()),
        ..OrderDraft::default()
    };
    Ok(submit_order(trading, trader, header_key, draft).await?)
}

/// `DELETE /api/trading/positions`: closes each of the caller's positions with something
/// left to sell; one result per position.
pub async fn close_all(
    trading: Trading<'_>,
    trader: &Trader,
) -> Result<Vec<(String, Result<Submitted, CloseError>)>, ReadError> {
    let book = account::book(trading, trader).await?;
    let mut results = Vec::new();
    for position in book
        .positions
        .iter()
        .filter(|p| p.qty_available > Decimal::ZERO)
    {
        let symbol = position.symbol.clone();
        let closed = close_position(trading, trader, None, &symbol, CloseAmount::All).await;
        results.push((symbol, closed));
    }
    Ok(results)
}

/// `DELETE /api/trading/orders`: cancels each of the caller's own open orders (an operator's
/// too: only their own); one result per order.
pub async fn cancel_all(
    trading: Trading<'_>,
    trader: &Trader,
) -> Result<Vec<(String, Result<(), CancelError>)>, ReadError> {
    account::ensure_enabled(&trading).await?;
    let ids = {
        let client = trading.pool.get().await?;
        ledger::open_order_ids(&client, trader.user_id).await?
    };
    let mut results = Vec::new();
    for id in ids {
        let canceled = cancel_order(trading, trader, &id).await;
        results.push((id, canceled));
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn an_amount_is_qty_or_percentage_or_everything() {
        assert_eq!(CloseAmount::parse(None, None).unwrap(), CloseAmount::All);
        assert_eq!(
            CloseAmount::parse(None, Some("50")).unwrap(),
            CloseAmount::Percentage(dec("50"))
        );
        assert!(matches!(
            CloseAmount::parse(Some("2"), None),
            Ok(CloseAmount::Qty(_))
        ));
        for (qty, pct) in [
            (Some("1"), Some("1")),
            (Some("0"), None),
            (Some("x"), None),
            (None, Some("0")),
            (None, Some("100.1")),
            (None, Some("half")),
        ] {
            assert!(CloseAmount::parse(qty, pct).is_err(), "{qty:?} {pct:?}");
        }
    }

    #[test]
    fn a_share_of_a_position_rounds_down_to_what_the_asset_allows() {
        let half = CloseAmount::Percentage(dec("50"));
        assert_eq!(half.of(dec("3"), true), dec("1.5"));
        assert_eq!(half.of(dec("3"), false), dec("1"));
        assert_eq!(CloseAmount::All.of(dec("2.5"), true), dec("2.5"));
        assert_eq!(
            CloseAmount::Percentage(dec("100")).of(dec("7"), false),
            dec("7")
        );
    }
}
