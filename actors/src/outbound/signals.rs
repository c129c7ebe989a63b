//! What Alpaca's answers say about its own count of the account's requests, as pauses.
//!
//! - A 429 pauses every lane for its `Retry-After` (else until `X-RateLimit-Reset`, else 5 s).
//! - `X-RateLimit-Remaining: 0` pauses every lane until `X-RateLimit-Reset`.
//! - Fewer remaining than the trading reserve pauses market data until the reset, so what is
//!   left goes to orders and cancels.
//!
//! Pauses last between 1 s and a minute, whatever the headers say.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;

use super::Lane;

/// Wait assumed when a 429 names no time.
const DEFAULT_WAIT: Duration = Duration::from_secs(5);
const MIN_WAIT: Duration = Duration::from_secs(1);
const MAX_WAIT: Duration = Duration::from_secs(60);

/// Lanes not to send on, for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    /// The lanes to hold.
    pub lanes: &'static [Lane],
    /// For how long.
    pub wait: Duration,
}

/// The pause an answer with `status` and `headers` asks for, if any; `reserve` is the trading
/// reserve, `now` the wall clock the reset time is read against.
pub fn pause_for(
    status: u16,
    headers: &HeaderMap,
    reserve: u32,
    now: DateTime<Utc>,
) -> Option<Pause> {
    let number =
        |name: &str| -> Option<i64> { headers.get(name)?.to_str().ok()?.trim().parse().ok() };
    let until_reset = number("x-ratelimit-reset").map(|reset| seconds(reset - now.timestamp()));
    if status == 429 {
        let wait = number("retry-after")
            .map(seconds)
            .or(until_reset)
            .unwrap_or(DEFAULT_WAIT);
        return Some(pause(&Lane::ALL, wait));
    }
    let remaining = number("x-ratelimit-remaining")?;
    let wait = until_reset?;
    if remaining <= 0 {
        Some(pause(&Lane::ALL, wait))
    } else if remaining < i64::from(reserve) {
        Some(pause(&[Lane::MarketData], wait))
    } else {
        None
    }
}

fn seconds(secs: i64) -> Duration {
    Duration::from_secs(secs.max(0) as u64)
}

fn pause(lanes: &'static [Lane], wait: Duration) -> Pause {
    Pause {
        lanes,
        wait: wait.clamp(MIN_WAIT, MAX_WAIT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    const NOW: i64 = 1_767_225_600;

    fn at_now() -> DateTime<Utc> {
        DateTime::from_timestamp(NOW, 0).unwrap()
    }

    #[test]
    fn a_429_pauses_every_lane_for_its_retry_after_else_until_the_reset_else_5_s() {
        let reset = (NOW + 12).to_string();
        let cases = [
            (
                headers(&[("retry-after", "7"), ("x-ratelimit-reset", &reset)]),
                7,
            ),
            (headers(&[("x-ratelimit-reset", &reset)]), 12),
            (headers(&[]), 5),
            (headers(&[("retry-after", "900")]), 60),
            (headers(&[("retry-after", "0")]), 1),
        ];
        for (h, secs) in cases {
            let pause = pause_for(429, &h, 60, at_now()).unwrap();
            assert_eq!(pause.lanes, &Lane::ALL);
            assert_eq!(pause.wait, Duration::from_secs(secs), "{h:?}");
        }
    }

    #[test]
    fn nothing_remaining_pauses_every_lane_and_little_remaining_pauses_market_data() {
        let reset = (NOW + 30).to_string();
        let answer = |remaining: &str| {
            let h = headers(&[
                ("x-ratelimit-remaining", remaining),
                ("x-ratelimit-reset", &reset),
            ]);
            pause_for(200, &h, 60, at_now())
        };
        let all = answer("0").unwrap();
        assert_eq!(
            (all.lanes, all.wait),
            (&Lane::ALL[..], Duration::from_secs(30))
        );
        let data = answer("59").unwrap();
        assert_eq!(data.lanes, &[Lane::MarketData]);
        assert_eq!(answer("60"), None);
        assert_eq!(answer("199"), None);
        let no_reset = headers(&[("x-ratelimit-remaining", "0")]);
        assert_eq!(pause_for(200, &no_reset, 60, at_now()), None);
        assert_eq!(pause_for(200, &headers(&[]), 60, at_now()), None);
    }
}
