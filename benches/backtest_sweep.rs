//! A parameter sweep as one worker slot computes it: the 100-combination SMA crossover grid
//! (fast 5…50 × slow 60…150) over 100,000 daily bars, from the sweep body to the ranked result
//! the job stores (parse and expand the grid, run every combination through the engine,
//! rank, serialise). Bars come from the xorshift walk `benches/backtrader_sweep.py` also
//! generates, so the two are measured on the same prices; that script times backtrader's
//! `optstrategy` on the same grid (docs/capacity.md has both figures).
//!
//! `cargo bench --bench backtest_sweep` (release profile). Prints the best of 5 runs. Loading
//! the bars from the Postgres cache is not included (the job reads them once per sweep).

use std::hint::black_box;
use std::time::{Duration, Instant};

use raptor::backtest::sweep::{self, Progress, SweepRequest};
use raptor::backtest::Bar;
use serde_json::json;

const BARS: usize = 100_000;
const RUNS: usize = 5;

fn cents(x: f64) -> f64 {
    (x * 100.0 + 0.5).floor() / 100.0
}

/// The walk of `backtrader_sweep.py`: xorshift64, one bar a day from 1750-01-01 05:00 UTC.
fn bars(n: usize) -> Vec<Bar> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let start = -6_942_481_200; // 1750-01-01T05:00:00Z
    let mut price = 100.0f64;
    (0..n)
        .map(|i| {
            let open = cents(price * (1.0 + (uniform() - 0.5) * 0.004));
            let close = cents(open * (1.0 + (uniform() - 0.5) * 0.03));
            let high = cents(open.max(close) * (1.0 + uniform() * 0.01));
            let low = cents(open.min(close) * (1.0 - uniform() * 0.01));
            price = close.clamp(20.0, 500.0);
            Bar {
                t: start + 86_400 * i as i64,
                open,
                high: high.max(open).max(close),
                low: low.min(open).min(close),
                close,
            }
        })
        .collect()
}

fn body() -> serde_json::Value {
    json!({
        "base": {"symbol": "SYN", "timeframe": "1Day", "start": "1750-01-01", "end": "2023-10-17",
                 "strategy": {"name": "sma_crossover", "params": {"fast": 5, "slow": 60}},
                 "initial_cash": "100000", "commission": "0.001", "slippage_bps": "5",
                 "position_size_pct": "95"},
        "grid": {"strategy.params.fast": (1..=10).map(|k| 5 * k).collect::<Vec<_>>(),
                 "strategy.params.slow": (6..=15).map(|k| 10 * k).collect::<Vec<_>>()},
        "rank_by": "sharpe",
    })
}

fn main() {
    let bars = bars(BARS);
    let body = body();
    let mut best = Duration::MAX;
    let mut summary = String::new();
    for _ in 0..RUNS {
        let start = Instant::now();
        let sweep = SweepRequest::parse(black_box(&body), 1_000_000).expect("a valid sweep");
        let progress = Progress::default();
        let metrics = sweep::evaluate(&bars, &sweep.combinations, &progress).expect("not canceled");
        let result = sweep::to_json(bars.len(), &sweep, &metrics);
        let took = start.elapsed();
        best = best.min(took);
        summary = format!(
            "{} combinations, best {} (sharpe {})",
            result["evaluated"], result["best"]["params"], result["best"]["metrics"]["sharpe"]
        );
        black_box(result);
    }
    println!(
        "first close {}, last close {}",
        bars[0].close,
        bars[BARS - 1].close
    );
    println!("{summary}");
    let per = best.as_secs_f64() / 100.0;
    println!(
        "sweep of 100 over {BARS} bars: {:.1} ms best of {RUNS} ({:.2} ms a combination, {:.0} M bars/s)",
        best.as_secs_f64() * 1e3,
        per * 1e3,
        BARS as f64 / per / 1e6
    );
}
