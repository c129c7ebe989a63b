//! Parameter sweeps: one job that runs a grid of variations of one backtest request over the
//! same bars (loaded once) and ranks them by a metric.
//!
//! - [`request`]: the body `{base, grid, rank_by}` parsed into the valid combinations.
//! - [`evaluate`]: every combination through the engine, exactly as a single run of the same
//!   request would go ([`engine::run`] with that request's strategy and costs), on the
//!   blocking pool, reporting progress and stopping when the sweep is canceled.
//! - [`to_json`]: the stored result, combinations ranked best first ([`rank`]).

pub mod rank;
pub mod request;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::{json, Value};

use super::engine::{self, Bar};
use super::metrics::Metrics;
use super::result::metrics_json;
#[cfg(test)]
use super::BacktestRequest;
pub use request::{Combination, SweepRequest, MAX_COMBINATIONS};

/// Shared between a job's async side and its computation: how far it got, and whether to stop.
#[derive(Debug, Default)]
pub struct Progress {
    done: AtomicUsize,
    total: AtomicUsize,
    cancel: AtomicBool,
}

impl Progress {
    /// Combinations to run (0 until known).
    pub fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    pub fn set_total(&self, total: usize) {
        self.total.store(total, Ordering::Relaxed);
    }

    /// Combinations finished so far.
    pub fn done(&self) -> usize {
        self.done.load(Ordering::Relaxed)
    }

    /// Asks the computation to stop at the next combination.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    pub fn canceled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// Each combination's metrics, in grid order; `None` when canceled part-way.
pub fn evaluate(
    bars: &[Bar],
    combinations: &[Combination],
    progress: &Progress,
) -> Option<Vec<Metrics>> {
    let mut metrics = Vec::with_capacity(combinations.len());
    for combination in combinations {
        if progress.canceled() {
            return None;
        }
        let request = &combination.request;
        let outcome = engine::run(bars, &request.strategy, &request.costs());
        metrics.push(outcome.metrics);
        progress.done.fetch_add(1, Ordering::Relaxed);
    }
    Some(metrics)
}

/// The stored result: `{bars, rank_by, total, evaluated, skipped, best, combinations}`, each
/// combination `{rank, params, metrics}`, best first.
pub fn to_json(bars: usize, sweep: &SweepRequest, metrics: &[Metrics]) -> Value {
    let ranked: Vec<Value> = sweep
        .rank_by
        .order(metrics)
        .into_iter()
        .enumerate()
        .map(|(rank, i)| {
            json!({
                "rank": rank + 1,
                "params": sweep.combinations[i].params,
                "metrics": metrics_json(&metrics[i]),
            })
        })
        .collect();
    json!({
        "bars": bars,
        "rank_by": sweep.rank_by.name(),
        "total": sweep.combinations.len() + sweep.skipped,
        "evaluated": metrics.len(),
        "skipped": sweep.skipped,
        "best": ranked.first(),
        "combinations": ranked,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn bars() -> Vec<Bar> {
        (0..400)
            .map(|i| {
                let x = i as f64;
                let close = 100.0 + 10.0 * (x / 17.0).sin() + 3.0 * (x / 5.0).cos();
                Bar::flat(1_600_000_000 + i * 86_400, (close * 100.0).round() / 100.0)
            })
            .collect()
    }

    #[test]
    fn each_combination_is_exactly_the_single_run_of_its_request() {
        let body = json!({
            "base": {"symbol": "X", "timeframe": "1Day", "start": "2020-01-01", "end": "2021-06-01",
                     "strategy": {"name": "sma_crossover", "params": {"fast": 5, "slow": 20}},
                     "commission": "0.001", "slippage_bps": "5"},
            "grid": {"strategy.params.fast": [3, 5, 8], "strategy.params.slow": [13, 21],
                     "position_size_pct": [50, "95"]},
        });
        let sweep = SweepRequest::parse(&body, 1_000_000).unwrap();
        let bars = bars();
        let progress = Progress::default();
        let metrics = evaluate(&bars, &sweep.combinations, &progress).unwrap();
        assert_eq!(progress.done(), 12);
        for (combination, got) in sweep.combinations.iter().zip(&metrics) {
            let single = BacktestRequest::parse(&combination.request.to_json(), 1_000_000).unwrap();
            let run = engine::run(&bars, &single.strategy, &single.costs());
            assert_eq!(&run.metrics, got, "{:?}", combination.params);
        }
        let result = to_json(bars.len(), &sweep, &metrics);
        let ranked = result["combinations"].as_array().unwrap();
        let sharpes: Vec<f64> = ranked
            .iter()
            .filter_map(|c| c["metrics"]["sharpe"].as_f64())
            .collect();
        assert!(sharpes.windows(2).all(|w| w[0] >= w[1]), "{sharpes:?}");
        assert_eq!(result["best"], ranked[0]);
        assert_eq!(
            (result["total"].as_u64(), result["skipped"].as_u64()),
            (Some(12), Some(0))
        );
    }

    #[test]
    fn a_canceled_sweep_stops_before_the_next_combination() {
        let body = json!({
            "base": {"symbol": "X", "timeframe": "1Day", "start": "2020-01-01", "end": "2021-06-01",
                     "strategy": {"name": "buy_and_hold"}},
            "grid": {"commission": [0, 0.001]},
        });
        let sweep = SweepRequest::parse(&body, 1_000_000).unwrap();
        let progress = Progress::default();
        progress.cancel();
        assert!(evaluate(&bars(), &sweep.combinations, &progress).is_none());
        assert_eq!(progress.done(), 0);
    }
}
