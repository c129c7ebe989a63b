//! The backtest bodies as the OpenAPI document shows them. The use cases build and parse the
//! JSON themselves (`crate::backtest`); these types only document it.

#![allow(dead_code)] // Fields document the JSON; nothing reads them.

use std::collections::HashMap;

use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::http::schemas::NumberOrString;

/// The body of `POST /api/backtest` (docs/backtests.md). Decimals are strings (numbers
/// accepted); anything wrong is one 422 naming every field.
#[derive(ToSchema)]
#[schema(example = json!({
    "symbol": "AAPL", "timeframe": "1Day",
    "start": "2015-01-01T00:00:00Z", "end": "2025-01-01T00:00:00Z",
    "strategy": {"name": "sma_crossover", "params": {"fast": 10, "slow": 30}},
    "initial_cash": "100000", "commission": "0.001", "slippage_bps": "0", "position_size_pct": "95"
}))]
pub struct BacktestBody {
    symbol: String,
    /// Alpaca's: `1Min` … `1Month`.
    timeframe: String,
    /// RFC 3339 or `YYYY-MM-DD`; before `end`.
    start: String,
    end: String,
    strategy: StrategyBody,
    /// Default `100000`; more than 0.
    #[schema(value_type = Option<String>)]
    initial_cash: Option<String>,
    /// A fraction of each fill, 0 to 0.1; default 0.
    #[schema(value_type = Option<String>)]
    commission: Option<String>,
    /// 0 to 1000; default 0.
    #[schema(value_type = Option<String>)]
    slippage_bps: Option<String>,
    /// More than 0, at most 100; default 95.
    #[schema(value_type = Option<String>)]
    position_size_pct: Option<String>,
}

/// `sma_crossover {fast, slow}`, `rsi_reversion {period, lower, upper}` or `buy_and_hold {}`.
#[derive(ToSchema)]
pub struct StrategyBody {
    /// `sma_crossover`, `rsi_reversion` or `buy_and_hold`.
    name: String,
    /// The strategy's parameters (docs/backtests.md); `{}` or absent for `buy_and_hold`.
    #[schema(nullable = false)]
    params: Option<StrategyParams>,
}

/// A strategy's parameters: `fast` and `slow` (`sma_crossover`), `period`, `lower` and
/// `upper` (`rsi_reversion`), none (`buy_and_hold`).
#[derive(ToSchema)]
pub struct StrategyParams {
    /// Bars in the fast SMA.
    #[schema(nullable = false)]
    fast: Option<u32>,
    /// Bars in the slow SMA (more than `fast`).
    #[schema(nullable = false)]
    slow: Option<u32>,
    /// Bars in the RSI.
    #[schema(nullable = false)]
    period: Option<u32>,
    /// Enter below this RSI.
    #[schema(nullable = false)]
    lower: Option<f64>,
    /// Leave above this RSI.
    #[schema(nullable = false)]
    upper: Option<f64>,
}

/// A backtest request as a run shows it: every field, defaults filled in, decimals as strings.
#[derive(ToSchema)]
pub struct BacktestRequestEcho {
    symbol: String,
    timeframe: String,
    /// RFC 3339.
    start: String,
    end: String,
    strategy: StrategyEcho,
    initial_cash: String,
    commission: String,
    slippage_bps: String,
    position_size_pct: String,
}

/// The strategy as parsed.
#[derive(ToSchema)]
pub struct StrategyEcho {
    name: String,
    params: StrategyParams,
}

/// A run's or a combination's metrics (docs/backtests.md): money as decimal strings, ratios
/// as numbers, `null` where a metric is undefined (no trades, no variance).
#[derive(ToSchema)]
pub struct BacktestMetrics {
    final_equity: String,
    #[schema(required = true)]
    total_return: Option<f64>,
    #[schema(required = true)]
    cagr: Option<f64>,
    #[schema(required = true)]
    sharpe: Option<f64>,
    #[schema(required = true)]
    max_drawdown: Option<f64>,
    #[schema(required = true)]
    win_rate: Option<f64>,
    #[schema(required = true)]
    profit_factor: Option<f64>,
    #[schema(required = true)]
    exposure: Option<f64>,
    /// Closed trades, all of them.
    trades: u64,
    #[schema(required = true)]
    volatility: Option<f64>,
    #[schema(required = true)]
    sortino: Option<f64>,
    #[schema(required = true)]
    calmar: Option<f64>,
    /// Bars, the longest run below a peak.
    max_drawdown_duration: u64,
    #[schema(required = true)]
    sqn: Option<f64>,
    #[schema(required = true)]
    benchmark_return: Option<f64>,
    /// Money per trade, a decimal string.
    #[schema(required = true)]
    expectancy: Option<String>,
    #[schema(required = true)]
    avg_trade_return: Option<f64>,
    #[schema(required = true)]
    best_trade: Option<f64>,
    #[schema(required = true)]
    worst_trade: Option<f64>,
}

/// One closed trade of a run.
#[derive(ToSchema)]
pub struct BacktestTrade {
    entry_time: String,
    entry_price: String,
    exit_time: String,
    exit_price: String,
    qty: String,
    /// Money, after costs.
    pnl: String,
    /// A fraction; `null` if undefined.
    #[schema(required = true)]
    r#return: Option<f64>,
}

/// The position still open at the end of a run.
#[derive(ToSchema)]
pub struct OpenPosition {
    entry_time: String,
    entry_price: String,
    qty: String,
}

/// One point of the equity curve: the strategy's equity and buy-and-hold's at a close.
#[derive(ToSchema)]
pub struct EquityPoint {
    /// The bar's time (RFC 3339).
    t: String,
    equity: String,
    benchmark: String,
}

/// A sweep's request as parsed: the base with defaults filled in, the grid, the metric.
#[derive(ToSchema)]
pub struct SweepRequestEcho {
    base: BacktestRequestEcho,
    grid: HashMap<String, Vec<NumberOrString>>,
    rank_by: String,
}

/// One combination of a sweep, ranked.
#[derive(ToSchema)]
pub struct SweepCombination {
    /// 1 is the best.
    rank: u32,
    /// Grid key → the value this combination used.
    params: HashMap<String, NumberOrString>,
    metrics: BacktestMetrics,
}

/// A run (built by `crate::backtest::jobs`): once succeeded it also has `bars`, `metrics`,
/// `trades` (the first 10,000), `trades_truncated`, `open_position` and `equity_curve`
/// (docs/backtests.md); once failed, `reason`. Lists leave out `trades` and `equity_curve`.
#[derive(ToSchema)]
pub struct BacktestRun {
    id: Uuid,
    /// `queued`, `running`, `succeeded`, `failed` or `canceled`.
    #[schema(pattern = "^(queued|running|succeeded|failed|canceled)$")]
    status: String,
    /// 0 to 1.
    progress: f64,
    /// Attempts made so far (a transient failure is retried, 3 attempts at most).
    attempts: i32,
    /// The error the last failed attempt met.
    #[schema(nullable = false)]
    last_error: Option<String>,
    /// While queued for a retry: when it may run again.
    #[schema(nullable = false)]
    retry_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The request as parsed, defaults filled in.
    request: BacktestRequestEcho,
    created_at: chrono::DateTime<chrono::Utc>,
    finished_at: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(nullable = false)]
    reason: Option<String>,
    #[schema(nullable = false)]
    bars: Option<u64>,
    #[schema(nullable = false)]
    metrics: Option<BacktestMetrics>,
    #[schema(nullable = false)]
    trades: Option<Vec<BacktestTrade>>,
    /// Whether more than 10,000 trades were made (the metrics count them all).
    #[schema(nullable = false)]
    trades_truncated: Option<bool>,
    open_position: Option<OpenPosition>,
    /// `{t, equity, benchmark}` per kept close.
    #[schema(nullable = false)]
    equity_curve: Option<Vec<EquityPoint>>,
}

/// A job still queued or running when the submission stopped waiting.
#[derive(ToSchema)]
pub struct BacktestPending {
    id: Uuid,
    #[schema(pattern = "^(queued|running)$")]
    status: String,
    progress: f64,
}

/// `{"runs": [...], "next_cursor": ...}`: run summaries, newest first.
#[derive(ToSchema)]
pub struct BacktestList {
    runs: Vec<BacktestRun>,
    /// Pass as `cursor` for the next page; null on the last page.
    next_cursor: Option<String>,
}

/// A page of a list.
#[derive(serde::Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// 1 to 100; default 50.
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The body of `POST /api/backtest/sweeps`: a backtest request and a grid of values for some of
/// its numeric parameters (`strategy.params.<name>`, `position_size_pct`, `commission`,
/// `slippage_bps`), at most 500 combinations; `rank_by` a metric (default `sharpe`).
#[derive(ToSchema)]
#[schema(example = json!({
    "base": {"symbol": "AAPL", "timeframe": "1Day", "start": "2015-01-01", "end": "2025-01-01",
             "strategy": {"name": "sma_crossover", "params": {"fast": 10, "slow": 30}}},
    "grid": {"strategy.params.fast": [5, 10, 20], "strategy.params.slow": [30, 50, 100]},
    "rank_by": "sharpe"
}))]
pub struct SweepBody {
    base: BacktestBody,
    /// Grid key → list of values.
    grid: HashMap<String, Vec<NumberOrString>>,
    /// `sharpe`, `sortino`, `calmar`, `total_return`, `cagr`, `final_equity`, `sqn`,
    /// `expectancy`, `avg_trade_return`, `win_rate`, `profit_factor`, `exposure` (higher is
    /// better), `max_drawdown`, `max_drawdown_duration`, `volatility` (lower is better).
    #[schema(nullable = false)]
    rank_by: Option<String>,
}

/// A sweep: a job like a run; once succeeded it has `bars`, `rank_by`, `total`, `evaluated`,
/// `skipped` (invalid combinations), `best` and `combinations` ranked best first, each
/// `{rank, params, metrics}`. Lists leave out `combinations`.
#[derive(ToSchema)]
pub struct Sweep {
    id: Uuid,
    #[schema(pattern = "^(queued|running|succeeded|failed|canceled)$")]
    status: String,
    progress: f64,
    attempts: i32,
    /// `{base, grid, rank_by}` as parsed.
    request: SweepRequestEcho,
    created_at: chrono::DateTime<chrono::Utc>,
    finished_at: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(nullable = false)]
    reason: Option<String>,
    #[schema(nullable = false)]
    total: Option<u64>,
    #[schema(nullable = false)]
    skipped: Option<u64>,
    #[schema(nullable = false)]
    evaluated: Option<u64>,
    #[schema(nullable = false)]
    bars: Option<u64>,
    #[schema(nullable = false)]
    rank_by: Option<String>,
    best: Option<SweepCombination>,
    #[schema(nullable = false)]
    combinations: Option<Vec<SweepCombination>>,
}

/// `{"sweeps": [...], "next_cursor": ...}`: sweep summaries, newest first.
#[derive(ToSchema)]
pub struct SweepList {
    sweeps: Vec<Sweep>,
    next_cursor: Option<String>,
}
