//! `POST /api/backtest/sweeps` bodies parsed once: `{base, grid, rank_by}`. A [`SweepRequest`]
//! holds a valid base request, the grid as asked, the metric to rank by and every combination
//! of the grid that makes a valid request (those that do not, such as `fast ≥ slow`, are
//! counted in `skipped`).
//!
//! A grid key is a numeric parameter of the base strategy (`strategy.params.fast`, …) or one of
//! `position_size_pct`, `commission`, `slippage_bps`; its value a non-empty list of distinct
//! values, each valid on its own. At most [`MAX_COMBINATIONS`] combinations. Anything wrong is
//! one 422 naming each field (`base.…`, `grid.…`, `rank_by`).

use serde_json::{json, Map, Value};

use super::super::request::{check_param, BacktestRequest};
#[cfg(test)]
use super::super::strategy::Strategy;
use super::rank::{Ranking, RANKABLE};
use crate::input::{FieldProblem, InvalidInput, Problems};

/// The most combinations a sweep may span (skipped ones included).
pub const MAX_COMBINATIONS: usize = 500;

/// Grid keys a sweep accepts, with the field name their problems are reported under.
const GRID_KEYS: [(&str, &str); 8] = [
    ("strategy.params.fast", "grid.strategy.params.fast"),
    ("strategy.params.slow", "grid.strategy.params.slow"),
    ("strategy.params.period", "grid.strategy.params.period"),
    ("strategy.params.lower", "grid.strategy.params.lower"),
    ("strategy.params.upper", "grid.strategy.params.upper"),
    ("position_size_pct", "grid.position_size_pct"),
    ("commission", "grid.commission"),
    ("slippage_bps", "grid.slippage_bps"),
];

/// One point of the grid: its values by grid key, and the run it stands for.
#[derive(Debug, Clone)]
pub struct Combination {
    pub params: Map<String, Value>,
    pub request: BacktestRequest,
}

/// A valid sweep.
#[derive(Debug, Clone)]
pub struct SweepRequest {
    pub base: BacktestRequest,
    /// Keys in the order given, each with its values.
    pub grid: Vec<(String, Vec<Value>)>,
    pub rank_by: Ranking,
    pub combinations: Vec<Combination>,
    /// Grid points that made no valid request.
    pub skipped: usize,
}

impl SweepRequest {
    pub fn parse(body: &Value, max_bars: u32) -> Result<Self, InvalidInput> {
        let Some(body) = body.as_object() else {
            return Err(InvalidInput::single("body", "must be a JSON object"));
        };
        let mut p = Problems::default();
        if let Some(unknown) = body
            .keys()
            .find(|k| !["base", "grid", "rank_by"].contains(&k.as_str()))
        {
            p.add("body", format!("unknown field {unknown:?}"));
        }
        let base = match body.get("base") {
            Some(base @ Value::Object(_)) => BacktestRequest::parse(base, max_bars)
                .map_err(|invalid| based(invalid, &mut p))
                .ok(),
            _ => {
                p.add("base", "is required: a backtest request");
                None
            }
        };
        let rank_by = p.take("rank_by", rank_by(body.get("rank_by")));
        let grid = base
            .as_ref()
            .and_then(|base| grid(body.get("grid"), base, &mut p));
        let (combinations, skipped) = match (&base, &grid) {
            (Some(base), Some(grid)) => expand(base, grid, max_bars),
            _ => (Vec::new(), 0),
        };
        if grid.is_some() && combinations.is_empty() {
            p.add("grid", "no combination makes a valid request");
        }
        p.finish(|| {
            Some(SweepRequest {
                base: base?,
                grid: grid?,
                rank_by: rank_by?,
                combinations,
                skipped,
            })
        })
    }

    /// The request as the sweep shows it: the base with defaults filled in, the grid, the metric.
    pub fn to_json(&self) -> Value {
        let grid: Map<String, Value> = self
            .grid
            .iter()
            .map(|(key, values)| (key.clone(), Value::Array(values.clone())))
            .collect();
        json!({"base": self.base.to_json(), "grid": grid, "rank_by": self.rank_by.name()})
    }
}

/// The base's problems, renamed `base.<field>`.
fn based(invalid: InvalidInput, p: &mut Problems) {
    for FieldProblem { field, problem } in invalid.problems {
        p.add(base_field(field), problem);
    }
}

fn base_field(field: &str) -> &'static str {
    const FIELDS: [&str; 17] = [
        "base.body",
        "base.symbol",
        "base.timeframe",
        "base.start",
        "base.end",
        "base.strategy",
        "base.strategy.name",
        "base.strategy.params",
        "base.strategy.params.fast",
        "base.strategy.params.slow",
        "base.strategy.params.period",
        "base.strategy.params.lower",
        "base.strategy.params.upper",
        "base.initial_cash",
        "base.commission",
        "base.slippage_bps",
        "base.position_size_pct",
    ];
    FIELDS
        .iter()
        .find(|f| &f[5..] == field)
        .copied()
        .unwrap_or("base")
}

fn rank_by(raw: Option<&Value>) -> Result<Ranking, String> {
    match raw {
        None | Some(Value::Null) => Ok(Ranking::default()),
        Some(Value::String(name)) => Ranking::parse(name).ok_or(()),
        Some(_) => Err(()),
    }
    .map_err(|()| {
        let names: Vec<&str> = RANKABLE.iter().map(|r| r.0).collect();
        format!("must be one of {}", names.join(", "))
    })
}

/// The grid's keys and values, each checked alone against `base`.
fn grid(
    raw: Option<&Value>,
    base: &BacktestRequest,
    p: &mut Problems,
) -> Option<Vec<(String, Vec<Value>)>> {
    let Some(raw) = raw.and_then(Value::as_object).filter(|g| !g.is_empty()) else {
        p.add(
            "grid",
            "is required: {\"strategy.params.fast\": [5, 10], …}",
        );
        return None;
    };
    let mut grid = Vec::new();
    let mut points: usize = 1;
    let mut ok = true;
    for (key, values) in raw {
        let Some(&(_, field)) = GRID_KEYS.iter().find(|(k, _)| k == key) else {
            p.add(
                "grid",
                format!("{key:?} is not a parameter a sweep can vary"),
            );
            ok = false;
            continue;
        };
        match values_of(key, values, base) {
            Ok(values) => {
                points = points.saturating_mul(values.len());
                grid.push((key.clone(), values));
            }
            Err(problem) => {
                p.add(field, problem);
                ok = false;
            }
        }
    }
    if points > MAX_COMBINATIONS {
        p.add(
            "grid",
            format!("spans {points} combinations; at most {MAX_COMBINATIONS}"),
        );
        ok = false;
    }
    ok.then_some(grid)
}

/// A grid key's values: a non-empty list of distinct values, each valid on its own.
fn values_of(key: &str, raw: &Value, base: &BacktestRequest) -> Result<Vec<Value>, String> {
    let values = raw
        .as_array()
        .filter(|v| !v.is_empty())
        .ok_or("must be a non-empty list of values")?;
    if values.len() > MAX_COMBINATIONS {
        return Err(format!("has more than {MAX_COMBINATIONS} values"));
    }
    for (i, value) in values.iter().enumerate() {
        if values[..i].contains(value) {
            return Err(format!("{value} appears twice"));
        }
        let problem = match key.strip_prefix("strategy.params.") {
            Some(name) => check_param(&base.strategy, name, value).unwrap_or_else(|| {
                Err(format!(
                    "{} has no parameter {name:?}",
                    base.strategy.name()
                ))
            }),
            None => alone(base, key, value),
        };
        problem.map_err(|problem| format!("{value}: {problem}"))?;
    }
    Ok(values.clone())
}

/// Whether the base with `key` set to `value` has no problem with `key`.
fn alone(base: &BacktestRequest, key: &str, value: &Value) -> Result<(), String> {
    let mut body = base.to_json();
    body[key] = value.clone();
    match BacktestRequest::parse(&body, u32::MAX) {
        Ok(_) => Ok(()),
        Err(invalid) => match invalid.problems.into_iter().find(|p| p.field == key) {
            Some(problem) => Err(problem.problem),
            None => Ok(()),
        },
    }
}

/// Every point of the grid (the first key varying slowest): the valid ones, and how many were
/// not.
fn expand(
    base: &BacktestRequest,
    grid: &[(String, Vec<Value>)],
    max_bars: u32,
) -> (Vec<Combination>, usize) {
    let total: usize = grid.iter().map(|(_, v)| v.len()).product();
    let base_json = base.to_json();
    let mut valid = Vec::with_capacity(total);
    for point in 0..total {
        let mut body = base_json.clone();
        let mut params = Map::new();
        let mut rest = point;
        for (key, values) in grid.iter().rev() {
            let value = &values[rest % values.len()];
            rest /= values.len();
            set(&mut body, key, value.clone());
            params.insert(key.clone(), value.clone());
        }
        if let Ok(request) = BacktestRequest::parse(&body, max_bars) {
            valid.push(Combination { params, request });
        }
    }
    let skipped = total - valid.len();
    (valid, skipped)
}

/// Sets a dotted key (`strategy.params.fast`) in a request body.
fn set(body: &mut Value, key: &str, value: Value) {
    match key.strip_prefix("strategy.params.") {
        Some(name) => body["strategy"]["params"][name] = value,
        None => body[key] = value,
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
