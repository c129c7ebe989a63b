//! What a backtest runs over and produces, shared by the engine, the strategies and the
//! metrics: the bars in, the closed trades out. A leaf: it imports none of them.

/// One OHLC bar; `t` is its start in Unix seconds (UTC).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bar {
    pub t: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
}

impl Bar {
    /// A bar whose four prices are `price` (tests and benches).
    pub fn flat(t: i64, price: f64) -> Self {
        Bar {
            t,
            open: price,
            high: price,
            low: price,
            close: price,
        }
    }
}

/// A closed round trip.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trade {
    /// Indices of the entry and exit fill bars.
    pub entry_bar: usize,
    pub exit_bar: usize,
    pub entry_price: f64,
    pub exit_price: f64,
    pub qty: u64,
    /// Net of both commissions.
    pub pnl: f64,
    /// `pnl / (qty × entry_price)`.
    pub ret: f64,
}
