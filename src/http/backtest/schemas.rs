//! The backtest bodies as the OpenAPI document shows them. The use cases build and parse the
//! JSON themselves (`crate::backtest`); these types only document it.

#![allow(dead_code)] // Fields document the JSON; nothing reads them.

use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

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
    #[schema(value_type = Option<Object>, nullable = false)]
    params: Option<Value>,
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
    #[schema(value_type = Object)]
    request: Value,
    created_at: chrono::DateTime<chrono::Utc>,
    finished_at: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(nullable = false)]
    reason: Option<String>,
    #[schema(nullable = false)]
    bars: Option<u64>,
    #[schema(value_type = Option<Object>, nullable = false)]
    metrics: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>, nullable = false)]
    trades: Option<Value>,
    /// Whether more than 10,000 trades were made (the metrics count them all).
    #[schema(nullable = false)]
    trades_truncated: Option<bool>,
    #[schema(value_type = Option<Object>)]
    open_position: Option<Value>,
    /// `{t, equity, benchmark}` per kept close.
    #[schema(value_type = Option<Vec<Object>>, nullable = false)]
    equity_curve: Option<Value>,
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
    #[schema(value_type = Object)]
    grid: Value,
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
    #[schema(value_type = Object)]
    request: Value,
    created_at: chrono::DateTime<chrono::Utc>,
    finished_at: Option<chrono::DateTime<chrono::Utc>>,
    #[schema(nullable = false)]
    reason: Option<String>,
    #[schema(nullable = false)]
    total: Option<u64>,
    #[schema(nullable = false)]
    skipped: Option<u64>,
    #[schema(value_type = Option<Object>)]
    best: Option<Value>,
    #[schema(value_type = Option<Vec<Object>>, nullable = false)]
    combinations: Option<Value>,
}

/// `{"sweeps": [...], "next_cursor": ...}`: sweep summaries, newest first.
#[derive(ToSchema)]
pub struct SweepList {
    sweeps: Vec<Sweep>,
    next_cursor: Option<String>,
}
