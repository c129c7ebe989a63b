//! The values an order is made of, each parsed from the client's text or number and valid by
//! construction: [`Symbol`], [`Positive`] amounts (bounded, so arithmetic on them cannot
//! overflow), [`Side`], [`TimeInForce`], [`OrderKind`] and [`OrderSize`].

use std::fmt;

use rust_decimal::Decimal;

/// A ticker such as `AAPL`, `BRK.B` or the crypto pair `BTC/USD`, in upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Symbol(String);

impl Symbol {
    /// Upper-cases `raw` and accepts 1–15 characters of letters and digits with at most one
    /// `.` or `/` between them.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let symbol = raw.trim().to_ascii_uppercase();
        let valid_chars = symbol
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '.' || c == '/');
        let separators = symbol.matches(['.', '/']).count();
        let starts_and_ends_alnum = symbol.starts_with(|c: char| c.is_ascii_alphanumeric())
            && symbol.ends_with(|c: char| c.is_ascii_alphanumeric());
        if symbol.is_empty() || symbol.len() > 15 {
            Err("must be 1 to 15 characters".into())
        } else if !valid_chars || separators > 1 || !starts_and_ends_alnum {
            Err("must be a ticker like AAPL, BRK.B or BTC/USD".into())
        } else {
            Ok(Self(symbol))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The largest quantity, notional amount or price accepted: far beyond any paper order, and
/// far enough inside the decimal range that multiplying a quantity by a price cannot overflow.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);
/// The most decimal places an amount may carry (Alpaca's own limit for fractional shares).
pub const MAX_DECIMAL_PLACES: u32 = 9;

/// A decimal greater than zero and at most [`MAX_AMOUNT`], with at most
/// [`MAX_DECIMAL_PLACES`]: a quantity, a notional amount or a price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Positive(Decimal);

impl Positive {
    pub fn parse(value: Decimal) -> Result<Self, String> {
        if value <= Decimal::ZERO {
            Err("must be greater than zero".into())
        } else if value > MAX_AMOUNT {
            Err(format!("must be at most {MAX_AMOUNT}"))
        } else if value.normalize().scale() > MAX_DECIMAL_PLACES {
            Err(format!(
                "must have at most {MAX_DECIMAL_PLACES} decimal places"
            ))
        } else {
            Ok(Self(value))
        }
    }

    pub fn get(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Positive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "buy" => Ok(Side::Buy),
            "sell" => Ok(Side::Sell),
            _ => Err("must be buy or sell".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }
}

/// How long an order stays working.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimeInForce {
    Day,
    Gtc,
    Opg,
    Cls,
    Ioc,
    Fok,
}

impl TimeInForce {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "day" => Ok(Self::Day),
            "gtc" => Ok(Self::Gtc),
            "opg" => Ok(Self::Opg),
            "cls" => Ok(Self::Cls),
            "ioc" => Ok(Self::Ioc),
            "fok" => Ok(Self::Fok),
            _ => Err("must be one of day, gtc, opg, cls, ioc, fok".into()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Gtc => "gtc",
            Self::Opg => "opg",
            Self::Cls => "cls",
            Self::Ioc => "ioc",
            Self::Fok => "fok",
        }
    }
}

/// The order type with exactly the prices it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderKind {
    Market,
    Limit {
        limit_price: Positive,
    },
    Stop {
        stop_price: Positive,
    },
    StopLimit {
        stop_price: Positive,
        limit_price: Positive,
    },
    /// A stop that follows the best price since submission by `trail`.
    TrailingStop {
        trail: Trail,
    },
}

/// How far a trailing stop trails: Alpaca's `trail_price` (USD) or `trail_percent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Trail {
    Price(Positive),
    /// Less than 100.
    Percent(Positive),
}

impl Trail {
    /// The stop's distance from `price`: the trail itself, or its percent of `price`.
    pub fn distance(self, price: Decimal) -> Option<Decimal> {
        match self {
            Self::Price(p) => Some(p.get()),
            Self::Percent(p) => price
                .checked_mul(p.get())?
                .checked_div(Decimal::ONE_HUNDRED),
        }
    }
}

impl OrderKind {
    /// Alpaca's and the client's name of the type.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Market => "market",
            Self::Limit { .. } => "limit",
            Self::Stop { .. } => "stop",
            Self::StopLimit { .. } => "stop_limit",
            Self::TrailingStop { .. } => "trailing_stop",
        }
    }

    pub fn limit_price(&self) -> Option<Positive> {
        match *self {
            Self::Limit { limit_price } | Self::StopLimit { limit_price, .. } => Some(limit_price),
            _ => None,
        }
    }

    pub fn stop_price(&self) -> Option<Positive> {
        match *self {
            Self::Stop { stop_price } | Self::StopLimit { stop_price, .. } => Some(stop_price),
            _ => None,
        }
    }

    /// The trail, for a trailing stop.
    pub fn trail(&self) -> Option<Trail> {
        match *self {
            Self::TrailingStop { trail } => Some(trail),
            _ => None,
        }
    }
}

/// How much to trade: a number of shares, or an amount of money.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderSize {
    Qty(Positive),
    Notional(Positive),
}
