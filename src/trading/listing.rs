//! `GET /api/trading/orders`: which of the caller's orders to list, parsed once. Alpaca's
//! parameter names and bounds (`status`, `limit` 1–500, `after`, `until`, `direction`,
//! `symbols`), plus an opaque `cursor` that continues a listing where its last page ended.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::input::{InvalidInput, Problems};

/// Which orders to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderStatusFilter {
    Open,
    Closed,
    All,
}

impl OrderStatusFilter {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::All => "all",
        }
    }
}

/// Where a page ends: the last order's creation time and ledger id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let text = format!(
            "{}.{}",
            self.created_at.timestamp_micros(),
            self.id.simple()
        );
        URL_SAFE_NO_PAD.encode(text)
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (micros, id) = text.split_once('.')?;
        Some(Self {
            created_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            id: id.parse().ok()?,
        })
    }
}

/// A valid listing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderQuery {
    pub status: OrderStatusFilter,
    pub limit: u16,
    pub after: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Oldest first (`direction=asc`); newest first by default.
    pub ascending: bool,
    /// Upper-case symbols; empty: every symbol.
    pub symbols: Vec<String>,
    pub cursor: Option<Cursor>,
    /// Alpaca's `nested`: legs only inside their parents' `legs`, not listed on their own.
    pub nested: bool,
}

/// The query string's parameters as text.
#[derive(Debug, Clone, Copy, Default)]
pub struct RawOrderQuery<'a> {
    pub status: Option<&'a str>,
    pub limit: Option<&'a str>,
    pub after: Option<&'a str>,
    pub until: Option<&'a str>,
    pub direction: Option<&'a str>,
    pub symbols: Option<&'a str>,
    pub cursor: Option<&'a str>,
    pub nested: Option<&'a str>,
}

/// At most this many symbols in one listing.
const MAX_SYMBOLS: usize = 100;

impl OrderQuery {
    /// Alpaca's own bounds: at most 500 orders a page.
    pub const MAX_LIMIT: u16 = 500;
    pub const DEFAULT_LIMIT: u16 = 50;

    /// What a listing without parameters asks for: open orders, newest first, the first 50.
    pub fn default_listing() -> Self {
        Self {
            status: OrderStatusFilter::Open,
            limit: Self::DEFAULT_LIMIT,
            after: None,
            until: None,
            ascending: false,
            symbols: Vec::new(),
            cursor: None,
            nested: false,
        }
    }

    /// Every parameter checked, every problem reported at once.
    pub fn parse(raw: RawOrderQuery<'_>) -> Result<Self, InvalidInput> {
        let mut p = Problems::default();
        let status = p.take(
            "status",
            match raw.status {
                None | Some("open") => Ok(OrderStatusFilter::Open),
                Some("closed") => Ok(OrderStatusFilter::Closed),
                Some("all") => Ok(OrderStatusFilter::All),
                Some(_) => Err("must be open, closed or all".to_owned()),
            },
        );
        let limit = p.take(
            "limit",
            match raw.limit.map(str::parse::<u16>) {
                None => Ok(Self::DEFAULT_LIMIT),
                Some(Ok(n)) if (1..=Self::MAX_LIMIT).contains(&n) => Ok(n),
                Some(_) => Err(format!(
                    "must be a whole number from 1 to {}",
                    Self::MAX_LIMIT
                )),
            },
        );
        let after = p.take("after", time(raw.after));
        let until = p.take("until", time(raw.until));
        let ascending = p.take(
            "direction",
            match raw.direction {
                None | Some("desc") => Ok(false),
                Some("asc") => Ok(true),
                Some(_) => Err("must be asc or desc".to_owned()),
            },
        );
        let symbols = p.take("symbols", symbols(raw.symbols));
        let cursor = p.take(
            "cursor",
            match raw.cursor {
                None => Ok(None),
                Some(c) => Cursor::decode(c)
                    .map(Some)
                    .ok_or_else(|| "is not a cursor this API gave".to_owned()),
            },
        );
        let nested = p.take(
            "nested",
            match raw.nested {
                None | Some("false") => Ok(false),
                Some("true") => Ok(true),
                Some(_) => Err("must be true or false".to_owned()),
            },
        );
        p.finish(|| {
            Some(OrderQuery {
                status: status?,
                limit: limit?,
                after: after?,
                until: until?,
                ascending: ascending?,
                symbols: symbols?,
                cursor: cursor?,
                nested: nested?,
            })
        })
    }
}

/// An RFC 3339 time, or a date (its midnight UTC), as Alpaca accepts.
fn time(raw: Option<&str>) -> Result<Option<DateTime<Utc>>, String> {
    let Some(raw) = raw.map(str::trim) else {
        return Ok(None);
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Some(t.and_utc()))
        .ok_or_else(|| "must be an RFC 3339 time or a date (YYYY-MM-DD)".to_owned())
}

fn symbols(raw: Option<&str>) -> Result<Vec<String>, String> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let symbols: Vec<String> = raw
        .split(',')
        .map(|s| s.trim().to_ascii_uppercase())
        .filter(|s| !s.is_empty())
        .collect();
    let plain = |s: &String| {
        s.len() <= 32
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '-'))
    };
    if symbols.is_empty() || symbols.len() > MAX_SYMBOLS || !symbols.iter().all(plain) {
        return Err(format!(
            "must be 1 to {MAX_SYMBOLS} comma-separated symbols (letters, digits, '.', '/', '-')"
        ));
    }
    Ok(symbols)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_open_newest_first_fifty() {
        let q = OrderQuery::parse(RawOrderQuery::default()).unwrap();
        assert_eq!(
            (q.status, q.limit, q.ascending, q.symbols.len(), q.cursor),
            (OrderStatusFilter::Open, 50, false, 0, None)
        );
    }

    #[test]
    fn every_parameter_is_read_and_every_problem_reported() {
        let q = OrderQuery::parse(RawOrderQuery {
            status: Some("all"),
            limit: Some("500"),
            after: Some("2026-01-02"),
            until: Some("2026-01-03T10:00:00Z"),
            direction: Some("asc"),
            symbols: Some("aapl, msft"),
            cursor: None,
            nested: Some("true"),
        })
        .unwrap();
        assert_eq!(q.symbols, ["AAPL", "MSFT"]);
        for bad in ["0", "501", "-1", "ten"] {
            let raw = RawOrderQuery {
                limit: Some(bad),
                ..RawOrderQuery::default()
            };
            assert!(OrderQuery::parse(raw).is_err(), "{bad}");
        }
        assert!(q.ascending && q.after.is_some() && q.until.is_some());
        let bad = OrderQuery::parse(RawOrderQuery {
            status: Some("done"),
            limit: Some("0"),
            after: Some("yesterday"),
            until: None,
            direction: Some("up"),
            symbols: Some("A B"),
            cursor: Some("!!"),
            nested: Some("yes"),
        })
        .unwrap_err();
        let fields: Vec<&str> = bad.problems.iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            [
                "status",
                "limit",
                "after",
                "direction",
                "symbols",
                "cursor",
                "nested"
            ]
        );
        assert!(q.nested);
    }

    #[test]
    fn a_cursor_reads_back_as_written() {
        let cursor = Cursor {
            created_at: DateTime::from_timestamp_micros(1_765_000_000_123_456).unwrap(),
            id: Uuid::from_u128(42),
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode("bm90IGEgY3Vyc29y"), None);
    }
}
