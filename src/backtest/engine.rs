//! The execution model: one pass over the bars, long only, one position at a time, agreeing with
//! backtrader (`cheat_on_open` off, `checksubmit` off, market orders, `PercentSizerInt`,
//! percentage commission, `set_slippage_perc(slip_open=True, slip_match=True)`).
//!
//! - A strategy signals on a bar's close; the market order fills at the next bar's open (a
//!   signal on the last bar is never filled).
//! - Size: `int(cash / close × (pct / 100))` from the signal bar's close.
//! - Buys fill at `open × (1 + bps/10⁴)`, at most the bar's high; sells at `open × (1 − bps/10⁴)`,
//!   at least its low. Commission is `qty × commission × price` on every fill.
//! - A buy whose cost plus commission exceeds the cash at the fill is not filled; the signal
//!   is lost.
//! - Equity is marked at every close (`cash + qty × close`); an open position at the end stays
//!   open, marked at the last close.
//!
//! Arithmetic is f64, in backtrader's order of operations, so trades match it to the last bit;
//! the API turns the results into decimal strings. The loop allocates only its outputs.

use super::metrics::{Metrics, MetricsBuilder};
pub use super::series::{Bar, Trade};
use super::strategy::{BuyAndHold, RsiReversion, Signal, Signals, SmaCrossover, Strategy};

/// Cash and costs of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Costs {
    pub initial_cash: f64,
    /// A fraction of the traded value, e.g. `0.001`.
    pub commission: f64,
    pub slippage_bps: f64,
    /// Percent of cash a position takes, `(0, 100]`.
    pub position_size_pct: f64,
}

/// A position still open at the end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenPosition {
    pub entry_bar: usize,
    pub entry_price: f64,
    pub qty: u64,
}

/// Everything a run produces.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub trades: Vec<Trade>,
    pub open: Option<OpenPosition>,
    /// Equity at each bar's close.
    pub equity: Vec<f64>,
    pub final_cash: f64,
    pub metrics: Metrics,
}

/// Runs `strategy` over `bars` (oldest first).
pub fn run(bars: &[Bar], strategy: &Strategy, costs: &Costs) -> Outcome {
    match *strategy {
        Strategy::SmaCrossover { fast, slow } => {
            simulate(bars, SmaCrossover::new(bars, fast, slow), costs)
        }
        Strategy::RsiReversion {
            period,
            lower,
            upper,
        } => simulate(bars, RsiReversion::new(period, lower, upper), costs),
        Strategy::BuyAndHold => simulate(bars, BuyAndHold, costs),
    }
}

/// An order waiting for the next bar's open.
#[derive(Clone, Copy)]
enum Pending {
    None,
    Buy(u64),
    Sell,
}

fn simulate<S: Signals>(bars: &[Bar], mut strategy: S, costs: &Costs) -> Outcome {
    let slip = costs.slippage_bps / 10_000.0;
    let pct = costs.position_size_pct / 100.0;
    let comm = costs.commission;
    let mut cash = costs.initial_cash;
    let mut position: Option<OpenPosition> = None;
    let mut entry_comm = 0.0;
    let mut pending = Pending::None;
    let mut trades = Vec::new();
    let mut equity = Vec::with_capacity(bars.len());
    let mut metrics = MetricsBuilder::new(costs.initial_cash);

    for (i, bar) in bars.iter().enumerate() {
        match pending {
            Pending::None => {}
            Pending::Buy(qty) => {
                let price = slip_up(bar.open, slip, bar.high);
                let q = qty as f64;
                let fee = q * comm * price;
                let after = cash - q * price - fee;
                if after >= 0.0 {
                    cash = after;
                    entry_comm = fee;
                    position = Some(OpenPosition {
                        entry_bar: i,
                        entry_price: price,
                        qty,
                    });
                }
            }
            Pending::Sell => {
                if let Some(open) = position.take() {
                    let price = slip_down(bar.open, slip, bar.low);
                    let q = open.qty as f64;
                    let gross = q * (price - open.entry_price);
                    let fee = q * comm * price;
                    cash += q * open.entry_price + gross;
                    cash -= fee;
                    let pnl = gross - (entry_comm + fee);
                    trades.push(Trade {
                        entry_bar: open.entry_bar,
                        exit_bar: i,
                        entry_price: open.entry_price,
                        exit_price: price,
                        qty: open.qty,
                        pnl,
                        ret: pnl / (q * open.entry_price),
                    });
                }
            }
        }
        pending = Pending::None;

        let held = position.map_or(0.0, |p| p.qty as f64);
        let value = cash + held * bar.close;
        equity.push(value);
        metrics.mark(bar.t, value, position.is_some());

        match strategy.on_close(bars, i, position.is_some()) {
            Signal::Buy if position.is_none() => {
                let qty = (cash / bar.close * pct) as u64;
                if qty > 0 {
                    pending = Pending::Buy(qty);
                }
            }
            Signal::Sell if position.is_some() => pending = Pending::Sell,
            _ => {}
        }
    }

    let metrics = metrics.finish(bars, &trades);
    Outcome {
        trades,
        open: position,
        equity,
        final_cash: cash,
        metrics,
    }
}

/// backtrader's `_slip_up` with `slip_match`: never above the bar's high.
#[inline(always)]
fn slip_up(open: f64, slip: f64, high: f64) -> f64 {
    if slip == 0.0 {
        return open;
    }
    let price = open * (1.0 + slip);
    if price <= high {
        price
    } else {
        high
    }
}

/// backtrader's `_slip_down` with `slip_match`: never below the bar's low.
#[inline(always)]
fn slip_down(open: f64, slip: f64, low: f64) -> f64 {
    if slip == 0.0 {
        return open;
    }
    let price = open * (1.0 - slip);
    if price >= low {
        price
    } else {
        low
    }
}
