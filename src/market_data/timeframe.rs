//! Bar timeframes as Alpaca spells them: `1Min`…`59Min`, `1Hour`…`23Hour`, `1Day`, `1Week`,
//! `1Month`, `2Month`, `3Month`, `6Month`, `12Month`.

use chrono::{DateTime, Duration, Utc};

/// A valid timeframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timeframe {
    Minutes(u32),
    Hours(u32),
    Day,
    Week,
    Months(u32),
}

impl Timeframe {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let digits: String = raw.chars().take_while(char::is_ascii_digit).collect();
        let n: u32 = digits.parse().map_err(|_| unknown(raw))?;
        let timeframe = match &raw[digits.len()..] {
            "Min" if (1..=59).contains(&n) => Timeframe::Minutes(n),
            "Hour" if (1..=23).contains(&n) => Timeframe::Hours(n),
            "Day" if n == 1 => Timeframe::Day,
            "Week" if n == 1 => Timeframe::Week,
            "Month" if matches!(n, 1 | 2 | 3 | 6 | 12) => Timeframe::Months(n),
            _ => return Err(unknown(raw)),
        };
        Ok(timeframe)
    }

    /// Alpaca's spelling.
    pub fn as_alpaca(self) -> String {
        match self {
            Timeframe::Minutes(n) => format!("{n}Min"),
            Timeframe::Hours(n) => format!("{n}Hour"),
            Timeframe::Day => "1Day".into(),
            Timeframe::Week => "1Week".into(),
            Timeframe::Months(n) => format!("{n}Month"),
        }
    }

    /// The longest a period of this timeframe lasts (a month counts 31 days), so a bar that
    /// started at `t` has surely closed at `t + span()`.
    pub fn span(self) -> Duration {
        match self {
            Timeframe::Minutes(n) => Duration::minutes(n.into()),
            Timeframe::Hours(n) => Duration::hours(n.into()),
            Timeframe::Day => Duration::days(1),
            Timeframe::Week => Duration::weeks(1),
            Timeframe::Months(n) => Duration::days(31 * i64::from(n)),
        }
    }

    /// Bars a range can hold at most, counting every calendar period (markets close, so the
    /// real number is lower): what the bar cap is checked against.
    pub fn periods_in(self, start: DateTime<Utc>, end: DateTime<Utc>) -> i64 {
        let shortest = match self {
            Timeframe::Months(n) => Duration::days(28 * i64::from(n)),
            other => other.span(),
        };
        (end - start).num_seconds() / shortest.num_seconds().max(1) + 1
    }
}

fn unknown(raw: &str) -> String {
    format!(
        "{raw:?} is not a timeframe: use 1Min…59Min, 1Hour…23Hour, 1Day, 1Week, or 1, 2, 3, 6, 12Month"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpaca_spellings_round_trip_and_others_are_refused() {
        for ok in [
            "1Min", "15Min", "59Min", "1Hour", "23Hour", "1Day", "1Week", "1Month", "12Month",
        ] {
            assert_eq!(Timeframe::parse(ok).unwrap().as_alpaca(), ok);
        }
        for bad in [
            "", "Day", "0Min", "60Min", "24Hour", "2Day", "2Week", "5Month", "1day", "1 Day",
            "-1Min",
        ] {
            assert!(Timeframe::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn periods_count_calendar_time() {
        let start = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let end = start + Duration::days(10);
        assert_eq!(Timeframe::Day.periods_in(start, end), 11);
        assert_eq!(Timeframe::Minutes(1).periods_in(start, end), 14_401);
    }
}
