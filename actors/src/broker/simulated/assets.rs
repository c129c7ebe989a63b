//! The simulator's assets: a short daily list, and an answer for any symbol, so `raptor dev`
//! can trade whatever it likes. A pair of a listed coin and `USD` (`BTC/USD`, `BTCUSD`) is
//! crypto and spelled with the slash, like Alpaca's; any other symbol is a tradable,
//! fractionable US equity.

use super::{asset_id, Simulator};
use crate::broker::asset::BrokerAsset;
use crate::broker::types::BrokerError;

/// The equities the simulator lists.
const EQUITIES: [(&str, &str); 6] = [
    ("AAPL", "Apple Inc. Common Stock"),
    ("AMZN", "Amazon.com, Inc. Common Stock"),
    ("MSFT", "Microsoft Corporation Common Stock"),
    ("NVDA", "NVIDIA Corporation Common Stock"),
    ("SPY", "SPDR S&P 500 ETF Trust"),
    ("TSLA", "Tesla, Inc. Common Stock"),
];
/// The coins it lists, each against USD.
const COINS: [(&str, &str); 2] = [("BTC", "Bitcoin"), ("ETH", "Ethereum")];

fn equity(symbol: &str, name: &str) -> BrokerAsset {
    BrokerAsset {
        id: asset_id(symbol).to_string(),
        class: "us_equity".into(),
        exchange: "SIMULATED".into(),
        symbol: symbol.into(),
        name: name.into(),
        status: "active".into(),
        tradable: true,
        marginable: true,
        shortable: true,
        easy_to_borrow: true,
        fractionable: true,
        attributes: Vec::new(),
    }
}

fn coin(base: &str, name: &str) -> BrokerAsset {
    let symbol = format!("{base}/USD");
    BrokerAsset {
        class: "crypto".into(),
        exchange: "CRYPTO".into(),
        name: format!("{name} / US Dollar"),
        marginable: false,
        shortable: false,
        easy_to_borrow: false,
        ..equity(&symbol, "")
    }
}

impl Simulator {
    /// What the simulator's daily asset list holds.
    pub fn listed_assets() -> Vec<BrokerAsset> {
        let equities = EQUITIES.iter().map(|(s, n)| equity(s, n));
        equities
            .chain(COINS.iter().map(|(b, n)| coin(b, n)))
            .collect()
    }

    /// The asset `symbol` (see the module's documentation).
    pub fn asset(symbol: &str) -> Result<BrokerAsset, BrokerError> {
        let symbol = symbol.trim().to_ascii_uppercase();
        if symbol.is_empty() {
            return Err(BrokerError::NotFound);
        }
        let base = symbol
            .strip_suffix("/USD")
            .or_else(|| symbol.strip_suffix("USD"));
        if let Some((base, name)) = base.and_then(|b| COINS.iter().find(|(c, _)| *c == b)) {
            return Ok(coin(base, name));
        }
        let name = EQUITIES
            .iter()
            .find(|(s, _)| *s == symbol)
            .map_or("Simulated equity", |(_, n)| n);
        Ok(equity(&symbol, name))
    }
}

/// The simulator's market: open 14:30–21:00 UTC on weekdays, no holidays.
impl Simulator {
    /// The clock at `now`.
    pub fn clock(now: chrono::DateTime<chrono::Utc>) -> crate::broker::market::MarketClock {
        use chrono::{Datelike, Duration, NaiveTime, Weekday};
        let at = |day: chrono::NaiveDate, h, m| {
            day.and_time(NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN))
                .and_utc()
        };
        let weekday = |d: chrono::NaiveDate| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun);
        let today = now.date_naive();
        let is_open = weekday(today) && now >= at(today, 14, 30) && now < at(today, 21, 0);
        let mut day = today;
        while !(weekday(day) && at(day, 14, 30) > now) {
            day += Duration::days(1);
        }
        let next_open = at(day, 14, 30);
        let mut day = today;
        while !(weekday(day) && at(day, 21, 0) > now) {
            day += Duration::days(1);
        }
        let rfc = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339();
        crate::broker::market::MarketClock {
            timestamp: rfc(now),
            is_open,
            next_open: rfc(next_open),
            next_close: rfc(at(day, 21, 0)),
        }
    }

    /// Every weekday from `start` to `end`.
    pub fn calendar(
        start: chrono::NaiveDate,
        end: chrono::NaiveDate,
    ) -> Vec<crate::broker::market::CalendarDay> {
        use chrono::{Datelike, Weekday};
        start
            .iter_days()
            .take_while(|d| *d <= end)
            .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
            .map(|date| crate::broker::market::CalendarDay {
                date,
                open: "09:30".into(),
                close: "16:00".into(),
                session_open: Some("0400".into()),
                session_close: Some("2000".into()),
                settlement_date: None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_coin_pair_is_crypto_however_spelled() {
        for asked in ["BTCUSD", "BTC/USD", "btcusd"] {
            let asset = Simulator::asset(asked).unwrap();
            assert_eq!(
                (asset.class.as_str(), asset.symbol.as_str()),
                ("crypto", "BTC/USD")
            );
        }
        assert_eq!(Simulator::asset("AAPL").unwrap().class, "us_equity");
        assert_eq!(Simulator::listed_assets().len(), 8);
    }
}
