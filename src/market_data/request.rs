//! Market-data requests parsed once at the edge: symbol lists, bar ranges and page tokens.
//! Whatever a client sends that is wrong is reported field by field, before any Alpaca call.

use base64::Engine;
use chrono::{DateTime, Utc};

use super::Timeframe;
use crate::input::{InvalidInput, Problems};
use crate::trading::order::Symbol;

/// Symbols one latest-data call may ask for.
pub const MAX_SYMBOLS: usize = 50;
/// Bars one page may hold (Alpaca's own page limit).
pub const MAX_PAGE: u32 = 10_000;
/// Bars a page holds when the client does not say.
pub const DEFAULT_PAGE: u32 = 1_000;

/// 1 to 50 distinct symbols, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Symbols(Vec<String>);

impl Symbols {
    /// Parses `AAPL,MSFT` (case-insensitive; duplicates collapse).
    pub fn parse(raw: Option<&str>) -> Result<Self, InvalidInput> {
        let raw = raw.unwrap_or_default();
        let mut symbols: Vec<String> = Vec::new();
        let mut problems = Problems::default();
        for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match Symbol::parse(part) {
                Ok(symbol) if !symbols.iter().any(|s| s == symbol.as_str()) => {
                    symbols.push(symbol.as_str().to_owned())
                }
                Ok(_) => {}
                Err(problem) => problems.add("symbols", format!("{part:?}: {problem}")),
            }
        }
        if symbols.is_empty() && raw.trim().is_empty() {
            problems.add(
                "symbols",
                "is required: one or more symbols, comma-separated",
            );
        }
        if symbols.len() > MAX_SYMBOLS {
            problems.add("symbols", format!("at most {MAX_SYMBOLS} symbols a call"));
        }
        problems.finish(|| Some(Symbols(symbols)))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// A valid `GET /api/historical-data/bars` query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BarsQuery {
    pub symbol: String,
    pub timeframe: Timeframe,
    /// `raw`, `split`, `dividend` or `all`.
    pub adjustment: &'static str,
    pub start: DateTime<Utc>,
    /// Inclusive.
    pub end: DateTime<Utc>,
    pub limit: u32,
    /// Resume after this bar (from `page_token`).
    pub after: Option<DateTime<Utc>>,
}

/// The query as received: every field a string, so a wrong type is a field problem, not a 400.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RawBarsQuery {
    pub symbol: Option<String>,
    pub timeframe: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub adjustment: Option<String>,
    pub limit: Option<String>,
    pub page_token: Option<String>,
}

impl BarsQuery {
    /// Checks every field; `now` is the default `end`.
    pub fn parse(raw: RawBarsQuery, now: DateTime<Utc>) -> Result<Self, InvalidInput> {
        let mut p = Problems::default();
        let symbol = p.take(
            "symbol",
            required(&raw.symbol).and_then(|s| Symbol::parse(s).map(|s| s.as_str().to_owned())),
        );
        let timeframe = p.take(
            "timeframe",
            required(&raw.timeframe).and_then(Timeframe::parse),
        );
        let start = p.take("start", required(&raw.start).and_then(time));
        let end = p.take("end", raw.end.as_deref().map_or(Ok(now), time));
        let adjustment = p.take(
            "adjustment",
            match raw.adjustment.as_deref().unwrap_or("raw") {
                "raw" => Ok("raw"),
                "split" => Ok("split"),
                "dividend" => Ok("dividend"),
                "all" => Ok("all"),
                other => Err(format!("{other:?} is not one of raw, split, dividend, all")),
            },
        );
        let limit = p.take(
            "limit",
            match raw.limit.as_deref() {
                None => Ok(DEFAULT_PAGE),
                Some(l) => l
                    .parse::<u32>()
                    .ok()
                    .filter(|l| (1..=MAX_PAGE).contains(l))
                    .ok_or_else(|| format!("must be a whole number from 1 to {MAX_PAGE}")),
            },
        );
        let after = p.take(
            "page_token",
            raw.page_token.as_deref().map(page_after).transpose(),
        );
        if let (Some(start), Some(end)) = (start, end) {
            if start > end {
                p.add("start", "must not be after end");
            }
        }
        p.finish(|| {
            Some(BarsQuery {
                symbol: symbol?,
                timeframe: timeframe?,
                adjustment: adjustment?,
                start: start?,
                end: end?,
                limit: limit?,
                after: after?,
            })
        })
    }
}

/// The opaque token that resumes after the bar at `t`.
pub fn page_token(t: DateTime<Utc>) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("after:{}", t.to_rfc3339()))
}

fn page_after(token: &str) -> Result<DateTime<Utc>, String> {
    let invalid = || "is not a token this API gave".to_owned();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let t = text.strip_prefix("after:").ok_or_else(invalid)?;
    DateTime::parse_from_rfc3339(t)
        .map(|t| t.to_utc())
        .map_err(|_| invalid())
}

fn required(value: &Option<String>) -> Result<&str, String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| "is required".to_owned())
}

fn time(raw: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.to_utc())
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        })
        .map_err(|_| format!("{raw:?} is not an RFC 3339 time or a YYYY-MM-DD date"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> RawBarsQuery {
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        };
        RawBarsQuery {
            symbol: get("symbol"),
            timeframe: get("timeframe"),
            start: get("start"),
            end: get("end"),
            adjustment: get("adjustment"),
            limit: get("limit"),
            page_token: get("page_token"),
        }
    }

    #[test]
    fn every_broken_rule_is_reported_at_once() {
        let now = Utc::now();
        let invalid = BarsQuery::parse(
            query(&[
                ("symbol", "AA PL"),
                ("timeframe", "2Day"),
                ("start", "yesterday"),
                ("adjustment", "none"),
                ("limit", "0"),
                ("page_token", "!!"),
            ]),
            now,
        )
        .unwrap_err();
        let fields: Vec<_> = invalid.problems.iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "symbol",
                "timeframe",
                "start",
                "adjustment",
                "limit",
                "page_token"
            ]
        );
    }

    #[test]
    fn start_after_end_is_refused_and_tokens_round_trip() {
        let now = Utc::now();
        let invalid = BarsQuery::parse(
            query(&[
                ("symbol", "aapl"),
                ("timeframe", "1Day"),
                ("start", "2024-02-01"),
                ("end", "2024-01-01"),
            ]),
            now,
        )
        .unwrap_err();
        assert_eq!(invalid.problems[0].field, "start");
        let t = DateTime::parse_from_rfc3339("2024-01-02T05:00:00Z")
            .unwrap()
            .to_utc();
        let ok = BarsQuery::parse(
            query(&[
                ("symbol", "aapl"),
                ("timeframe", "1Day"),
                ("start", "2024-01-01"),
                ("page_token", &page_token(t)),
            ]),
            now,
        )
        .unwrap();
        assert_eq!(
            (ok.symbol.as_str(), ok.after, ok.end),
            ("AAPL", Some(t), now)
        );
    }

    #[test]
    fn symbol_lists_are_bounded_and_deduplicated() {
        assert_eq!(
            Symbols::parse(Some("aapl, MSFT,AAPL")).unwrap().as_slice(),
            ["AAPL", "MSFT"]
        );
        let many: Vec<String> = (0..51).map(|i| format!("S{i}")).collect();
        assert!(Symbols::parse(Some(&many.join(","))).is_err());
        assert!(Symbols::parse(None).is_err());
        assert!(Symbols::parse(Some("AAPL,$$")).is_err());
    }
}
