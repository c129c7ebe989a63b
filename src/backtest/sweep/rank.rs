//! The metrics a sweep can rank its combinations by, and which way is better for each: higher
//! for returns and ratios, lower for drawdown, its duration and volatility. A combination whose
//! metric is undefined (null) ranks after every defined one; ties keep the grid's order.

use super::super::metrics::Metrics;

/// Each rankable metric and whether higher is better.
pub const RANKABLE: [(&str, bool); 15] = [
    ("sharpe", true),
    ("sortino", true),
    ("calmar", true),
    ("total_return", true),
    ("cagr", true),
    ("final_equity", true),
    ("sqn", true),
    ("expectancy", true),
    ("avg_trade_return", true),
    ("win_rate", true),
    ("profit_factor", true),
    ("exposure", true),
    ("max_drawdown", false),
    ("max_drawdown_duration", false),
    ("volatility", false),
];

/// The metric a sweep ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ranking(usize);

impl Default for Ranking {
    /// `sharpe`.
    fn default() -> Self {
        Ranking(0)
    }
}

impl Ranking {
    pub fn parse(name: &str) -> Option<Self> {
        RANKABLE.iter().position(|(n, _)| *n == name).map(Ranking)
    }

    pub fn name(self) -> &'static str {
        RANKABLE[self.0].0
    }

    /// The metric's value in `m`, if defined.
    pub fn value(self, m: &Metrics) -> Option<f64> {
        let value = match self.name() {
            "sharpe" => m.sharpe,
            "sortino" => m.sortino,
            "calmar" => m.calmar,
            "total_return" => Some(m.total_return),
            "cagr" => m.cagr,
            "final_equity" => Some(m.final_equity),
            "sqn" => m.sqn,
            "expectancy" => m.expectancy,
            "avg_trade_return" => m.avg_trade_return,
            "win_rate" => m.win_rate,
            "profit_factor" => m.profit_factor,
            "exposure" => Some(m.exposure),
            "max_drawdown" => Some(m.max_drawdown),
            "max_drawdown_duration" => Some(m.max_drawdown_duration as f64),
            _ => m.volatility,
        };
        value.filter(|v| v.is_finite())
    }

    /// Indices of `metrics`, best first.
    pub fn order(self, metrics: &[Metrics]) -> Vec<usize> {
        let higher = RANKABLE[self.0].1;
        let mut order: Vec<usize> = (0..metrics.len()).collect();
        order.sort_by(
            |&a, &b| match (self.value(&metrics[a]), self.value(&metrics[b])) {
                (Some(x), Some(y)) if higher => y.total_cmp(&x),
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            },
        );
        order
    }
}
