//! `GET /api/backtest/{id}/equity.svg`: a succeeded run's equity curve as an SVG chart, drawn in
//! Rust with plotters' SVG backend (no fonts, no JavaScript): the equity in blue, holding the
//! symbol with the same initial cash in grey beside it, and each drawdown (the stretch from a
//! peak until equity regains it) shaded red between the peak and the curve.
//!
//! The chart reads the stored curve (at most `result::MAX_CURVE_POINTS` points, each with its
//! `benchmark`), so drawing it never touches bars or the engine.

use deadpool_postgres::Pool;
use plotters::prelude::*;
use serde_json::Value;
use uuid::Uuid;

use super::repo::{self, Kind};
use super::BacktestError;
use crate::db::StorageError;

/// The equity line's colour (tests find the series by it).
pub const EQUITY: RGBColor = RGBColor(31, 119, 180);
/// The buy-and-hold line's colour.
pub const BENCHMARK: RGBColor = RGBColor(127, 127, 127);
/// The drawdown shading's colour.
pub const DRAWDOWN: RGBColor = RGBColor(214, 39, 40);

const SIZE: (u32, u32) = (960, 480);

/// The chart of one of the caller's succeeded runs.
pub async fn equity_svg(pool: &Pool, user_id: Uuid, id: Uuid) -> Result<String, BacktestError> {
    let client = pool.get().await.map_err(StorageError::from)?;
    let row = repo::get(&client, user_id, Kind::Run, id)
        .await?
        .ok_or(BacktestError::NotFound)?;
    drop(client);
    if row.status != "succeeded" {
        return Err(BacktestError::NotFinished(row.status));
    }
    let curve = row
        .result
        .as_ref()
        .and_then(|r| r.get("equity_curve"))
        .and_then(Value::as_array)
        .map(|points| Curve::read(points))
        .unwrap_or_default();
    Ok(render(&curve))
}

/// The points of a stored curve.
#[derive(Debug, Default)]
pub struct Curve {
    pub equity: Vec<f64>,
    /// Empty for runs stored before the benchmark was kept.
    pub benchmark: Vec<f64>,
}

impl Curve {
    fn read(points: &[Value]) -> Self {
        let number = |p: &Value, key: &str| p.get(key)?.as_str()?.parse::<f64>().ok();
        let equity = points.iter().filter_map(|p| number(p, "equity")).collect();
        let benchmark: Vec<f64> = points
            .iter()
            .filter_map(|p| number(p, "benchmark"))
            .collect();
        Curve {
            benchmark: if benchmark.len() == points.len() {
                benchmark
            } else {
                Vec::new()
            },
            equity,
        }
    }
}

/// The SVG document of `curve`.
pub fn render(curve: &Curve) -> String {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        // Drawing into a String cannot fail short of a bug in plotters; an empty chart then.
        let _ = draw(&root, curve);
        let _ = root.present();
    }
    svg
}

fn draw(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    curve: &Curve,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    root.fill(&WHITE)?;
    let n = curve.equity.len().max(2);
    let all = curve.equity.iter().chain(&curve.benchmark).copied();
    let (low, high) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (low, high) = if low.is_finite() && high > low {
        (low, high)
    } else {
        (0.0, 1.0)
    };
    let pad = (high - low) * 0.05;
    let mut chart = ChartBuilder::on(root)
        .margin(16)
        .build_cartesian_2d(0f64..(n - 1) as f64, (low - pad)..(high + pad))?;
    for (start, end) in drawdowns(&curve.equity) {
        let peak = curve.equity[start];
        let mut outline: Vec<(f64, f64)> = (start..=end).map(|i| (i as f64, peak)).collect();
        outline.extend((start..=end).rev().map(|i| (i as f64, curve.equity[i])));
        chart.draw_series(std::iter::once(Polygon::new(
            outline,
            DRAWDOWN.mix(0.25).filled(),
        )))?;
    }
    let line = |values: &[f64]| -> Vec<(f64, f64)> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| (i as f64, *v))
            .collect()
    };
    if !curve.benchmark.is_empty() {
        chart.draw_series(LineSeries::new(
            line(&curve.benchmark),
            BENCHMARK.stroke_width(2),
        ))?;
    }
    chart.draw_series(LineSeries::new(line(&curve.equity), EQUITY.stroke_width(2)))?;
    Ok(())
}

/// Each drawdown as `(peak index, last index below it)`.
pub fn drawdowns(equity: &[f64]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut peak = 0;
    let mut open: Option<usize> = None;
    for (i, &value) in equity.iter().enumerate() {
        if value >= equity[peak] {
            if let Some(start) = open.take() {
                spans.push((start, i));
            }
            peak = i;
        } else if open.is_none() {
            open = Some(peak);
        }
    }
    if let Some(start) = open {
        spans.push((start, equity.len() - 1));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawdowns_run_from_a_peak_until_it_is_regained_or_the_end() {
        let equity = [100.0, 110.0, 105.0, 108.0, 111.0, 109.0, 104.0];
        assert_eq!(drawdowns(&equity), vec![(1, 4), (4, 6)]);
        assert!(drawdowns(&[1.0, 2.0, 3.0]).is_empty());
        assert!(drawdowns(&[]).is_empty());
    }

    #[test]
    fn the_chart_is_svg_with_a_line_per_series() {
        let curve = Curve {
            equity: vec![100.0, 110.0, 105.0, 120.0],
            benchmark: vec![100.0, 102.0, 104.0, 103.0],
        };
        let svg = render(&curve);
        assert!(svg.starts_with("<svg"), "{svg}");
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert_eq!(svg.matches("<polygon").count(), 1, "{svg}");
    }
}
