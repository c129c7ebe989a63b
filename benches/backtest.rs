//! The backtest engine over 1,000,000 synthetic one-minute bars, each strategy, next to two
//! reference loops measured in the same run: a floor (one pass summing closes: what merely
//! reading the bars costs) and a naive SMA crossover (both averages recomputed from their
//! window at every bar, signals only). Goal (SPEC §6): the engine under 50 ms per strategy.
//!
//! `cargo bench --bench backtest` (release profile). Prints bars/s and ms, best of 7 runs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use raptor::backtest::{run, Bar, Costs, Strategy};

const BARS: usize = 1_000_000;
const RUNS: usize = 7;

/// A deterministic random walk (xorshift), prices with cents, one bar a minute.
fn synthetic_bars(n: usize) -> Vec<Bar> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut price = 100.0f64;
    (0..n)
        .map(|i| {
            let open = (price * (1.0 + (next() - 0.5) * 0.002) * 100.0).round() / 100.0;
            let close = (open * (1.0 + (next() - 0.5) * 0.01) * 100.0).round() / 100.0;
            let high = (open.max(close) * (1.0 + next() * 0.002) * 100.0).round() / 100.0;
            let low = (open.min(close) * (1.0 - next() * 0.002) * 100.0).round() / 100.0;
            price = close.clamp(20.0, 500.0);
            Bar {
                t: 1_600_000_000 + 60 * i as i64,
                open,
                high: high.max(open).max(close),
                low: low.min(open).min(close),
                close,
            }
        })
        .collect()
}

fn best_of(mut f: impl FnMut()) -> Duration {
    (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn report(name: &str, took: Duration) {
    let ms = took.as_secs_f64() * 1e3;
    let rate = BARS as f64 / took.as_secs_f64();
    println!("{name:<32} {ms:>9.2} ms {:>10.1} M bars/s", rate / 1e6);
}

/// Signals of an SMA crossover with both averages summed afresh at every bar.
fn naive_sma_signals(bars: &[Bar], fast: usize, slow: usize) -> usize {
    let mut signals = 0;
    let mut prev = 0.0f64;
    for i in slow..bars.len() {
        let avg = |p: usize| bars[i + 1 - p..=i].iter().map(|b| b.close).sum::<f64>() / p as f64;
        let d = avg(fast) - avg(slow);
        if (d > 0.0) != (prev > 0.0) {
            signals += 1;
        }
        if d != 0.0 {
            prev = d;
        }
    }
    signals
}

fn main() {
    let bars = synthetic_bars(BARS);
    let costs = Costs {
        initial_cash: 100_000.0,
        commission: 0.001,
        slippage_bps: 5.0,
        position_size_pct: 95.0,
    };
    println!("{BARS} bars, best of {RUNS} runs");
    report(
        "reference: floor (sum closes)",
        best_of(|| {
            black_box(black_box(&bars).iter().map(|b| b.close).sum::<f64>());
        }),
    );
    report(
        "reference: naive sma_crossover",
        best_of(|| {
            black_box(naive_sma_signals(black_box(&bars), 10, 30));
        }),
    );
    let strategies = [
        Strategy::SmaCrossover { fast: 10, slow: 30 },
        Strategy::RsiReversion {
            period: 14,
            lower: 30.0,
            upper: 70.0,
        },
        Strategy::BuyAndHold,
    ];
    for strategy in strategies {
        let mut trades = 0;
        let took = best_of(|| {
            let outcome = run(black_box(&bars), &strategy, &costs);
            trades = outcome.trades.len();
            black_box(outcome);
        });
        report(
            &format!("engine: {} ({trades} trades)", strategy.name()),
            took,
        );
    }
}
