//! A run's figures, gathered while the engine marks equity at each close (no second pass over
//! the curve, no allocation):
//!
//! - `total_return` = final / initial − 1.
//! - `cagr` = (final / initial)^(365.25 / calendar days from the first bar to the last) − 1;
//!   null when the bars span no time.
//! - `max_drawdown` = the largest fall from a running peak of the equity marked at every close,
//!   as a positive fraction of that peak.
//! - `sharpe` = mean / sample standard deviation of the returns between consecutive UTC days'
//!   end-of-day equity (the last mark of each day), × √252, risk-free 0; null with fewer than
//!   two returns or a zero deviation.
//! - `win_rate` = share of closed trades with pnl > 0; null without a closed trade.
//! - `profit_factor` = gross profit / gross loss of closed trades; null without a losing trade.
//! - `exposure` = share of bars whose close finds a position open.
//! - `volatility` = sample standard deviation of those daily returns × √252.
//! - `sortino` = their mean / √(mean of min(r, 0)²) × √252; null when none is negative.
//! - `calmar` = `cagr / max_drawdown`; null when either is missing or the drawdown is 0.
//! - `max_drawdown_duration` = the longest run of bars spent below a peak (backtrader
//!   `DrawDown`'s `max.len`).
//! - `sqn` = √n × mean / population standard deviation of closed trades' pnl; null with fewer
//!   than two trades or a zero deviation (backtrader `SQN`).
//! - `benchmark_return` = last close / first close − 1 (holding the symbol).
//! - `expectancy` (mean pnl), `avg_trade_return`, `best_trade`, `worst_trade` (trade returns);
//!   null without a closed trade.

use super::series::{Bar, Trade};

/// The figures of a finished run; ratios as fractions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    pub final_equity: f64,
    pub total_return: f64,
    pub cagr: Option<f64>,
    pub sharpe: Option<f64>,
    pub max_drawdown: f64,
    pub win_rate: Option<f64>,
    pub profit_factor: Option<f64>,
    pub exposure: f64,
    /// Closed trades.
    pub trades: usize,
    pub volatility: Option<f64>,
    pub sortino: Option<f64>,
    pub calmar: Option<f64>,
    /// Bars.
    pub max_drawdown_duration: usize,
    pub sqn: Option<f64>,
    pub benchmark_return: Option<f64>,
    /// Mean pnl of a closed trade, in currency.
    pub expectancy: Option<f64>,
    pub avg_trade_return: Option<f64>,
    pub best_trade: Option<f64>,
    pub worst_trade: Option<f64>,
}

const SECONDS_PER_DAY: i64 = 86_400;

/// Running state fed at every close.
pub(crate) struct MetricsBuilder {
    initial: f64,
    last: f64,
    peak: f64,
    max_drawdown: f64,
    bars: usize,
    exposed: usize,
    day: Option<i64>,
    /// End-of-day equity of the day before the current one.
    prev_eod: Option<f64>,
    /// Welford's running mean and sum of squared deviations of daily returns.
    n: u64,
    mean: f64,
    m2: f64,
    /// Sum of min(r, 0)² over the daily returns, and how many were negative.
    downside: f64,
    negatives: u64,
    /// Bars since the last peak (0 at a peak), and the longest such run.
    under: usize,
    max_under: usize,
}

impl MetricsBuilder {
    pub(crate) fn new(initial: f64) -> Self {
        Self {
            initial,
            last: initial,
            peak: f64::NEG_INFINITY,
            max_drawdown: 0.0,
            bars: 0,
            exposed: 0,
            day: None,
            prev_eod: None,
            n: 0,
            mean: 0.0,
            m2: 0.0,
            downside: 0.0,
            negatives: 0,
            under: 0,
            max_under: 0,
        }
    }

    /// Equity `value` at the close of the bar that started at `t`.
    #[inline(always)]
    pub(crate) fn mark(&mut self, t: i64, value: f64, long: bool) {
        self.bars += 1;
        self.exposed += usize::from(long);
        if value >= self.peak {
            self.peak = value;
            self.under = 0;
        } else {
            self.under += 1;
            self.max_under = self.max_under.max(self.under);
            if self.peak > 0.0 {
                let fall = (self.peak - value) / self.peak;
                if fall > self.max_drawdown {
                    self.max_drawdown = fall;
                }
            }
        }
        let day = t.div_euclid(SECONDS_PER_DAY);
        if self.day != Some(day) {
            if self.day.is_some() {
                self.end_day(self.last);
            }
            self.day = Some(day);
        }
        self.last = value;
    }

    fn end_day(&mut self, eod: f64) {
        if let Some(prev) = self.prev_eod {
            if prev != 0.0 {
                let r = eod / prev - 1.0;
                self.n += 1;
                let delta = r - self.mean;
                self.mean += delta / self.n as f64;
                self.m2 += delta * (r - self.mean);
                if r < 0.0 {
                    self.negatives += 1;
                    self.downside += r * r;
                }
            }
        }
        self.prev_eod = Some(eod);
    }

    pub(crate) fn finish(mut self, bars: &[Bar], trades: &[Trade]) -> Metrics {
        if self.day.is_some() {
            self.end_day(self.last);
        }
        let final_equity = self.last;
        let growth = final_equity / self.initial;
        let days = match (bars.first(), bars.last()) {
            (Some(first), Some(last)) => (last.t - first.t) as f64 / SECONDS_PER_DAY as f64,
            _ => 0.0,
        };
        let cagr = (days > 0.0)
            .then(|| growth.powf(365.25 / days) - 1.0)
            .filter(|c| c.is_finite());
        let std = (self.n >= 2)
            .then(|| (self.m2 / (self.n - 1) as f64).sqrt())
            .filter(|std| std.is_finite());
        let sharpe = std
            .filter(|std| *std > 0.0)
            .map(|std| self.mean / std * ANNUAL.sqrt());
        let sortino = (self.negatives > 0)
            .then(|| self.mean / (self.downside / self.n as f64).sqrt() * ANNUAL.sqrt())
            .filter(|s| s.is_finite());
        let calmar = cagr
            .filter(|_| self.max_drawdown > 0.0)
            .map(|c| c / self.max_drawdown);
        let benchmark_return = match (bars.first(), bars.last()) {
            (Some(first), Some(last)) if first.close != 0.0 => Some(last.close / first.close - 1.0),
            _ => None,
        };
        let t = TradeStats::of(trades);
        Metrics {
            final_equity,
            total_return: growth - 1.0,
            cagr,
            sharpe,
            max_drawdown: self.max_drawdown,
            win_rate: t.win_rate,
            profit_factor: t.profit_factor,
            exposure: if self.bars == 0 {
                0.0
            } else {
                self.exposed as f64 / self.bars as f64
            },
            trades: trades.len(),
            volatility: std.map(|std| std * ANNUAL.sqrt()),
            sortino,
            calmar,
            max_drawdown_duration: self.max_under,
            sqn: t.sqn,
            benchmark_return,
            expectancy: t.expectancy,
            avg_trade_return: t.avg_return,
            best_trade: t.best,
            worst_trade: t.worst,
        }
    }
}

/// Trading days a year, for annualising daily figures.
const ANNUAL: f64 = 252.0;

/// The figures of the closed trades.
struct TradeStats {
    win_rate: Option<f64>,
    profit_factor: Option<f64>,
    sqn: Option<f64>,
    expectancy: Option<f64>,
    avg_return: Option<f64>,
    best: Option<f64>,
    worst: Option<f64>,
}

impl TradeStats {
    fn of(trades: &[Trade]) -> Self {
        let n = trades.len() as f64;
        let wins = trades.iter().filter(|t| t.pnl > 0.0).count();
        let gross_profit: f64 = trades.iter().map(|t| t.pnl.max(0.0)).sum();
        let gross_loss: f64 = trades.iter().map(|t| (-t.pnl).max(0.0)).sum();
        let any = !trades.is_empty();
        let mean_pnl = trades.iter().map(|t| t.pnl).sum::<f64>() / n;
        let sqn = (trades.len() >= 2)
            .then(|| {
                let var = trades
                    .iter()
                    .map(|t| (t.pnl - mean_pnl).powi(2))
                    .sum::<f64>()
                    / n;
                n.sqrt() * mean_pnl / var.sqrt()
            })
            .filter(|s| s.is_finite());
        let returns = trades.iter().map(|t| t.ret);
        TradeStats {
            win_rate: any.then(|| wins as f64 / n),
            profit_factor: (gross_loss > 0.0).then(|| gross_profit / gross_loss),
            sqn,
            expectancy: any.then_some(mean_pnl),
            avg_return: any.then(|| returns.clone().sum::<f64>() / n),
            best: returns.clone().reduce(f64::max),
            worst: returns.reduce(f64::min),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(values: &[f64]) -> Metrics {
        let mut m = MetricsBuilder::new(values[0]);
        let bars: Vec<Bar> = (0..values.len())
            .map(|i| Bar::flat(i as i64 * SECONDS_PER_DAY, 1.0))
            .collect();
        for (i, v) in values.iter().enumerate() {
            m.mark(bars[i].t, *v, i % 2 == 1);
        }
        m.finish(&bars, &[])
    }

    #[test]
    fn drawdown_sharpe_and_exposure_follow_their_definitions() {
        let m = marks(&[100.0, 110.0, 99.0, 121.0]);
        assert!((m.max_drawdown - 0.1).abs() < 1e-12);
        assert!((m.total_return - 0.21).abs() < 1e-12);
        assert_eq!(m.exposure, 0.5);
        let r = [0.1, -0.1, 121.0 / 99.0 - 1.0];
        let mean = r.iter().sum::<f64>() / 3.0;
        let var = r.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / 2.0;
        let want = mean / var.sqrt() * 252f64.sqrt();
        assert!((m.sharpe.unwrap() - want).abs() < 1e-12);
        assert!((m.cagr.unwrap() - (1.21f64.powf(365.25 / 3.0) - 1.0)).abs() < 1e-9);
        assert_eq!(m.win_rate, None);
        assert_eq!(m.profit_factor, None);
        assert!((m.volatility.unwrap() - var.sqrt() * 252f64.sqrt()).abs() < 1e-12);
        let sortino = mean / (0.01f64 / 3.0).sqrt() * 252f64.sqrt();
        assert!((m.sortino.unwrap() - sortino).abs() < 1e-9);
        assert!((m.calmar.unwrap() - m.cagr.unwrap() / 0.1).abs() < 1e-9);
        assert_eq!(m.max_drawdown_duration, 1);
        assert_eq!((m.sqn, m.expectancy, m.best_trade), (None, None, None));
    }

    #[test]
    fn the_longest_stretch_below_a_peak_counts_until_it_is_regained_or_the_end() {
        let m = marks(&[100.0, 90.0, 95.0, 100.0, 101.0, 100.5, 100.0, 99.0, 100.9]);
        assert_eq!(
            m.max_drawdown_duration, 4,
            "regained at 100 after 2; 4 below 101"
        );
        let m = marks(&[100.0, 101.0, 102.0]);
        assert_eq!(
            (m.max_drawdown_duration, m.sortino, m.calmar),
            (0, None, None)
        );
    }

    #[test]
    fn trade_figures_follow_their_definitions() {
        let trade = |pnl: f64, ret: f64| Trade {
            entry_bar: 0,
            exit_bar: 1,
            entry_price: 1.0,
            exit_price: 1.0,
            qty: 1,
            pnl,
            ret,
        };
        let trades = [trade(10.0, 0.1), trade(-4.0, -0.04), trade(6.0, 0.06)];
        let bars = [Bar::flat(0, 50.0), Bar::flat(SECONDS_PER_DAY, 60.0)];
        let mut b = MetricsBuilder::new(100.0);
        b.mark(0, 100.0, false);
        b.mark(SECONDS_PER_DAY, 112.0, false);
        let m = b.finish(&bars, &trades);
        let mean = 4.0;
        let std = ((36.0 + 64.0 + 4.0) / 3.0f64).sqrt();
        assert!((m.sqn.unwrap() - 3f64.sqrt() * mean / std).abs() < 1e-12);
        assert_eq!(m.expectancy, Some(4.0));
        assert!((m.avg_trade_return.unwrap() - 0.04).abs() < 1e-12);
        assert_eq!((m.best_trade, m.worst_trade), (Some(0.1), Some(-0.04)));
        assert!((m.benchmark_return.unwrap() - 0.2).abs() < 1e-12);
        let one = MetricsBuilder::new(100.0).finish(&bars, &trades[..1]);
        assert_eq!(one.sqn, None, "fewer than two trades");
    }

    #[test]
    fn a_flat_curve_has_no_sharpe() {
        let m = marks(&[100.0, 100.0, 100.0]);
        assert_eq!(m.sharpe, None);
        assert_eq!(m.max_drawdown, 0.0);
    }
}
