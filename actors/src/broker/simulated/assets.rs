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
