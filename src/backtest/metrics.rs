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

use super::engine::{Bar, Trade};

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
        }
    }

    /// Equity `value` at the close of the bar that started at `t`.
    #[inline(always)]
    pub(crate) fn mark(&mut self, t: i64, value: f64, long: bool) {
        self.bars += 1;
        self.exposed += usize::from(long);
        if value > self.peak {
            self.peak = value;
        } else if self.peak > 0.0 {
            let fall = (self.peak - value) / self.peak;
            if fall > self.max_drawdown {
                self.max_drawdown = fall;
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
        let sharpe = (self.n >= 2)
            .then(|| (self.m2 / (self.n - 1) as f64).sqrt())
            .filter(|std| *std > 0.0 && std.is_finite())
            .map(|std| self.mean / std * 252f64.sqrt());
        let wins = trades.iter().filter(|t| t.pnl > 0.0).count();
        let gross_profit: f64 = trades.iter().map(|t| t.pnl.max(0.0)).sum();
        let gross_loss: f64 = trades.iter().map(|t| (-t.pnl).max(0.0)).sum();
        Metrics {
            final_equity,
            total_return: growth - 1.0,
            cagr,
            sharpe,
            max_drawdown: self.max_drawdown,
            win_rate: (!trades.is_empty()).then(|| wins as f64 / trades.len() as f64),
            profit_factor: (gross_loss > 0.0).then(|| gross_profit / gross_loss),
            exposure: if self.bars == 0 {
                0.0
            } else {
                self.exposed as f64 / self.bars as f64
            },
            trades: trades.len(),
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
    }

    #[test]
    fn a_flat_curve_has_no_sharpe() {
        let m = marks(&[100.0, 100.0, 100.0]);
        assert_eq!(m.sharpe, None);
        assert_eq!(m.max_drawdown, 0.0);
    }
}
