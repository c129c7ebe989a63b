//! Alpaca's market clock (`GET /v2/clock`) and trading calendar (`GET /v2/calendar`) in the
//! broker's own types; the only place that reads their JSON.

use chrono::NaiveDate;
use serde::Deserialize;

use super::types::BrokerError;

/// Whether the market is open now, and its next open and close (RFC 3339, New York offsets).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MarketClock {
    /// Alpaca's time of the answer.
    pub timestamp: String,
    /// Whether the market is open now.
    pub is_open: bool,
    /// The next open.
    pub next_open: String,
    /// The next close.
    pub next_close: String,
}

/// One trading day: its date and session times (New York, `HH:MM`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CalendarDay {
    /// The trading day.
    pub date: NaiveDate,
    /// The regular session's open (`09:30`).
    pub open: String,
    /// The regular session's close (`16:00`, earlier on short days).
    pub close: String,
    /// The extended session's open, when Alpaca gives it.
    #[serde(default)]
    pub session_open: Option<String>,
    /// The extended session's close, when Alpaca gives it.
    #[serde(default)]
    pub session_close: Option<String>,
    /// When the day's trades settle, when Alpaca gives it.
    #[serde(default)]
    pub settlement_date: Option<NaiveDate>,
}

/// The clock in Alpaca's answer; `BadGateway` when it is not one.
pub(crate) fn parse_clock(text: &str) -> Result<MarketClock, BrokerError> {
    serde_json::from_str(text).map_err(|_| {
        tracing::warn!("alpaca answered the clock with something else");
        BrokerError::BadGateway
    })
}

/// The days in Alpaca's calendar answer; `BadGateway` when it is not a list of them.
pub(crate) fn parse_calendar(text: &str) -> Result<Vec<CalendarDay>, BrokerError> {
    serde_json::from_str(text).map_err(|_| {
        tracing::warn!("alpaca answered the calendar with something else");
        BrokerError::BadGateway
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpacas_clock_and_calendar_read() {
        let clock = parse_clock(
            r#"{"timestamp":"2026-12-07T11:30:00.1-05:00","is_open":true,
                "next_open":"2026-12-08T09:30:00-05:00","next_close":"2026-12-07T16:00:00-05:00"}"#,
        )
        .unwrap();
        assert!(clock.is_open);
        let days = parse_calendar(
            r#"[{"date":"2026-12-07","open":"09:30","close":"16:00","session_open":"0400",
                 "session_close":"2000","settlement_date":"2026-12-08"}]"#,
        )
        .unwrap();
        assert_eq!(days[0].close, "16:00");
        assert!(parse_clock("[]").is_err());
    }
}
