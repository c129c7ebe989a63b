//! Order classes (Alpaca's `order_class`): a `simple` order, a `bracket` (an entry with a
//! take-profit and a stop-loss exit), an `oco` (two exits, one cancels the other) and an `oto`
//! (an entry with one exit). The legs' prices are parsed here, and [`class_problems`] holds
//! Alpaca's rules for which legs, types, times in force and sizes each class takes and on which
//! side of the entry (or the market) each exit's price lies.

use rust_decimal::Decimal;
use serde::Deserialize;

use super::values::{OrderKind, OrderSize, Positive, Side, TimeInForce};
use super::OrderRequest;
use crate::input::Problems;

/// Alpaca's `take_profit` object as a client sent it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeProfitDraft {
    pub limit_price: Option<Decimal>,
}

/// Alpaca's `stop_loss` object as a client sent it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StopLossDraft {
    pub stop_price: Option<Decimal>,
    pub limit_price: Option<Decimal>,
}

/// A take-profit exit: a limit order at `limit_price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TakeProfit {
    pub limit_price: Positive,
}

/// A stop-loss exit: a stop (or, with `limit_price`, a stop-limit) order at `stop_price`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StopLoss {
    pub stop_price: Positive,
    pub limit_price: Option<Positive>,
}

/// The one exit of an `oto` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OtoExit {
    TakeProfit(TakeProfit),
    StopLoss(StopLoss),
}

/// An order's class with exactly the legs it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderClass {
    Simple,
    Bracket {
        take_profit: TakeProfit,
        stop_loss: StopLoss,
    },
    Oco {
        take_profit: TakeProfit,
        stop_loss: StopLoss,
    },
    Oto(OtoExit),
}

impl OrderClass {
    /// Alpaca's name of the class.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Simple => "simple",
            Self::Bracket { .. } => "bracket",
            Self::Oco { .. } => "oco",
            Self::Oto(_) => "oto",
        }
    }

    pub fn take_profit(&self) -> Option<TakeProfit> {
        match *self {
            Self::Bracket { take_profit, .. } | Self::Oco { take_profit, .. } => Some(take_profit),
            Self::Oto(OtoExit::TakeProfit(take_profit)) => Some(take_profit),
            _ => None,
        }
    }

    pub fn stop_loss(&self) -> Option<StopLoss> {
        match *self {
            Self::Bracket { stop_loss, .. } | Self::Oco { stop_loss, .. } => Some(stop_loss),
            Self::Oto(OtoExit::StopLoss(stop_loss)) => Some(stop_loss),
            _ => None,
        }
    }

    /// How many orders the class places at Alpaca: the order itself and its legs (a bracket's
    /// two exits, an oco's stop, an oto's exit). Each counts against the per-user limits.
    pub fn orders(&self) -> u32 {
        match self {
            Self::Simple => 1,
            Self::Bracket { .. } => 3,
            Self::Oco { .. } | Self::Oto(_) => 2,
        }
    }

    /// The side of the exit legs: an oco is itself the exit; a bracket's or an oto's legs
    /// close what its entry opens.
    pub fn exit_side(&self, side: Side) -> Side {
        match (self, side) {
            (Self::Oco { .. }, side) => side,
            (_, Side::Buy) => Side::Sell,
            (_, Side::Sell) => Side::Buy,
        }
    }
}

/// The class and legs a draft names (`order_class`, `take_profit`, `stop_loss`), each leg's
/// prices checked; which legs a class needs is checked here too.
pub(super) fn parse_class(
    p: &mut Problems,
    class: Option<&str>,
    take_profit: Option<&TakeProfitDraft>,
    stop_loss: Option<&StopLossDraft>,
) -> Option<OrderClass> {
    let take_profit = take_profit.map(|t| parse_take_profit(p, t));
    let stop_loss = stop_loss.map(|s| parse_stop_loss(p, s));
    let both = |p: &mut Problems, name: &str| {
        if take_profit.is_none() {
            p.add("take_profit", format!("is required for {name} orders"));
        }
        if stop_loss.is_none() {
            p.add("stop_loss", format!("is required for {name} orders"));
        }
        Some((take_profit??, stop_loss??))
    };
    match class.unwrap_or("simple") {
        "simple" => {
            if take_profit.is_some() {
                p.add("take_profit", "is only for bracket, oco and oto orders");
            }
            if stop_loss.is_some() {
                p.add("stop_loss", "is only for bracket, oco and oto orders");
            }
            Some(OrderClass::Simple)
        }
        "bracket" => both(p, "bracket").map(|(take_profit, stop_loss)| OrderClass::Bracket {
            take_profit,
            stop_loss,
        }),
        "oco" => both(p, "oco").map(|(take_profit, stop_loss)| OrderClass::Oco {
            take_profit,
            stop_loss,
        }),
        "oto" => match (take_profit, stop_loss) {
            (Some(take_profit), None) => Some(OrderClass::Oto(OtoExit::TakeProfit(take_profit?))),
            (None, Some(stop_loss)) => Some(OrderClass::Oto(OtoExit::StopLoss(stop_loss?))),
            _ => {
                p.add(
                    "order_class",
                    "an oto order takes exactly one of take_profit and stop_loss",
                );
                None
            }
        },
        _ => {
            p.add("order_class", "must be one of simple, bracket, oco, oto");
            None
        }
    }
}

fn parse_take_profit(p: &mut Problems, draft: &TakeProfitDraft) -> Option<TakeProfit> {
    let Some(limit_price) = draft.limit_price else {
        p.add("take_profit.limit_price", "is required");
        return None;
    };
    let limit_price = p.take("take_profit.limit_price", Positive::parse(limit_price))?;
    Some(TakeProfit { limit_price })
}

fn parse_stop_loss(p: &mut Problems, draft: &StopLossDraft) -> Option<StopLoss> {
    let limit_price = match draft.limit_price {
        Some(limit) => Some(p.take("stop_loss.limit_price", Positive::parse(limit))?),
        None => None,
    };
    let Some(stop_price) = draft.stop_price else {
        p.add("stop_loss.stop_price", "is required");
        return None;
    };
    let stop_price = p.take("stop_loss.stop_price", Positive::parse(stop_price))?;
    Some(StopLoss {
        stop_price,
        limit_price,
    })
}

/// Alpaca's rules for an order of a class other than `simple`, as `(field, problem)` pairs:
/// a whole `qty` (no notional), `day` or `gtc`, no extended hours, the entry types the class
/// takes, an oco's limit price equal to its take-profit's, and the legs on the right side of
/// the entry's stated price ([`side_problems`]; a market entry or an oco is checked against
/// the latest trade when it is priced).
pub fn class_problems(order: &OrderRequest) -> Vec<(&'static str, String)> {
    let class = order.class;
    let name = class.as_str();
    let mut problems = Vec::new();
    if class == OrderClass::Simple {
        return problems;
    }
    match order.size {
        OrderSize::Notional(_) => problems.push((
            "notional",
            format!("is not allowed for {name} orders: give qty"),
        )),
        OrderSize::Qty(q) if !q.get().fract().is_zero() => {
            problems.push(("qty", format!("must be a whole number for {name} orders")))
        }
        OrderSize::Qty(_) => {}
    }
    if !matches!(order.time_in_force, TimeInForce::Day | TimeInForce::Gtc) {
        problems.push((
            "time_in_force",
            format!("must be day or gtc for {name} orders"),
        ));
    }
    if order.extended_hours {
        problems.push((
            "extended_hours",
            format!("is not allowed for {name} orders"),
        ));
    }
    // Long only: exits sell. A bracket's or oto's entry buys (a sell entry's exits would buy
    // back with cash nothing reserved); an oco is itself the exit of a long position.
    let exits_sell = class.exit_side(order.side) == Side::Sell;
    if !exits_sell {
        let side = if matches!(class, OrderClass::Oco { .. }) {
            "sell"
        } else {
            "buy"
        };
        problems.push((
            "side",
            format!("must be {side} for {name} orders: positions are long only, exits sell"),
        ));
    }
    let (kind_ok, kinds) = match (class, order.kind) {
        (OrderClass::Bracket { .. }, kind) => (
            matches!(kind, OrderKind::Market | OrderKind::Limit { .. }),
            "market or limit",
        ),
        (OrderClass::Oco { .. }, kind) => (matches!(kind, OrderKind::Limit { .. }), "limit"),
        (_, kind) => (
            !matches!(kind, OrderKind::TrailingStop { .. }),
            "market, limit, stop or stop_limit",
        ),
    };
    if !kind_ok {
        problems.push(("type", format!("must be {kinds} for {name} orders")));
    }
    if let (OrderClass::Oco { take_profit, .. }, Some(limit)) = (class, order.kind.limit_price()) {
        if limit != take_profit.limit_price {
            problems.push((
                "limit_price",
                "must equal take_profit.limit_price for oco orders (or be left out)".to_owned(),
            ));
        }
    }
    let reference = entry_price(order).map(|r| (r, "the entry's price"));
    if exits_sell {
        problems.extend(side_problems(order, reference));
    }
    problems
}

/// The price a bracket's or an oto's entry states (its limit, else its stop); none for a
/// market entry, an oco or a simple order.
pub fn entry_price(order: &OrderRequest) -> Option<Decimal> {
    match order.class {
        OrderClass::Simple | OrderClass::Oco { .. } => None,
        _ => order
            .kind
            .limit_price()
            .or(order.kind.stop_price())
            .map(Positive::get),
    }
}

/// Whether the exits, which sell (long only), lie on the right side: the take-profit above and
/// the stop-loss below `reference` (and the take-profit above the stop-loss), a stop-loss's
/// limit at or below its stop.
pub fn side_problems(
    order: &OrderRequest,
    reference: Option<(Decimal, &str)>,
) -> Vec<(&'static str, String)> {
    let class = order.class;
    let (above, below) = ("above", "below");
    let beyond = |a: Decimal, b: Decimal| a > b;
    let mut problems = Vec::new();
    let take_profit = class.take_profit().map(|t| t.limit_price.get());
    let stop_loss = class.stop_loss();
    if let (Some(tp), Some(sl)) = (take_profit, stop_loss) {
        if !beyond(tp, sl.stop_price.get()) {
            problems.push((
                "take_profit.limit_price",
                format!("must be {above} stop_loss.stop_price"),
            ));
        }
    }
    if let Some((reference, what)) = reference {
        if take_profit.is_some_and(|tp| !beyond(tp, reference)) {
            problems.push((
                "take_profit.limit_price",
                format!("must be {above} {what} ({reference})"),
            ));
        }
        if stop_loss.is_some_and(|sl| !beyond(reference, sl.stop_price.get())) {
            problems.push((
                "stop_loss.stop_price",
                format!("must be {below} {what} ({reference})"),
            ));
        }
    }
    if let Some(StopLoss {
        stop_price,
        limit_price: Some(limit),
    }) = stop_loss
    {
        if beyond(limit.get(), stop_price.get()) {
            problems.push((
                "stop_loss.limit_price",
                format!("must be at or {below} stop_loss.stop_price"),
            ));
        }
    }
    problems
}
