//! Alpaca's assets (`GET /v2/assets`, `GET /v2/assets/{symbol}`) in the broker's own type,
//! [`BrokerAsset`]: the only place that reads Alpaca's asset JSON. A field Alpaca sends as
//! `null` or leaves out reads as empty or `false`, so an odd asset never fails a whole list; an
//! asset without a symbol or class is dropped.

use serde::Deserialize;

use super::types::BrokerError;

/// One of Alpaca's assets, with Alpaca's field names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAsset {
    /// Alpaca's asset id.
    pub id: String,
    /// `us_equity`, `us_option` or `crypto` (Alpaca's `class`).
    pub class: String,
    /// The listing exchange (`NASDAQ`, `NYSE`, `CRYPTO`…).
    pub exchange: String,
    /// As Alpaca spells it (`AAPL`, `BRK.B`, `BTC/USD`).
    pub symbol: String,
    /// The asset's name.
    pub name: String,
    /// `active` or `inactive`.
    pub status: String,
    /// Whether Alpaca takes orders for it.
    pub tradable: bool,
    /// Whether it can be bought on margin.
    pub marginable: bool,
    /// Whether it can be sold short.
    pub shortable: bool,
    /// Whether it is easy to borrow for a short sale.
    pub easy_to_borrow: bool,
    /// Whether a fractional `qty` or a `notional` order is allowed.
    pub fractionable: bool,
    /// Alpaca's extra flags (`fractional_eh_enabled`, `has_options`…).
    pub attributes: Vec<String>,
}

#[derive(Deserialize)]
struct WireAsset {
    id: Option<String>,
    class: Option<String>,
    exchange: Option<String>,
    symbol: Option<String>,
    name: Option<String>,
    status: Option<String>,
    tradable: Option<bool>,
    marginable: Option<bool>,
    shortable: Option<bool>,
    easy_to_borrow: Option<bool>,
    fractionable: Option<bool>,
    attributes: Option<Vec<String>>,
}

impl WireAsset {
    fn into_asset(self) -> Option<BrokerAsset> {
        Some(BrokerAsset {
            id: self.id.unwrap_or_default(),
            class: self.class.filter(|c| !c.is_empty())?,
            exchange: self.exchange.unwrap_or_default(),
            symbol: self.symbol.filter(|s| !s.is_empty())?,
            name: self.name.unwrap_or_default(),
            status: self.status.unwrap_or_default(),
            tradable: self.tradable.unwrap_or(false),
            marginable: self.marginable.unwrap_or(false),
            shortable: self.shortable.unwrap_or(false),
            easy_to_borrow: self.easy_to_borrow.unwrap_or(false),
            fractionable: self.fractionable.unwrap_or(false),
            attributes: self.attributes.unwrap_or_default(),
        })
    }
}

/// One asset from Alpaca's answer; `BadGateway` when it is not one.
pub(crate) fn parse_one(text: &str) -> Result<BrokerAsset, BrokerError> {
    serde_json::from_str::<WireAsset>(text)
        .ok()
        .and_then(WireAsset::into_asset)
        .ok_or_else(|| {
            tracing::warn!("alpaca answered an asset request with something else");
            BrokerError::BadGateway
        })
}

/// The assets of Alpaca's list answer (those without a symbol or class are left out).
pub(crate) fn parse_list(text: &str) -> Result<Vec<BrokerAsset>, BrokerError> {
    let list: Vec<serde_json::Value> = serde_json::from_str(text).map_err(|_| {
        tracing::warn!("alpaca answered the asset list with something else");
        BrokerError::BadGateway
    })?;
    Ok(list
        .into_iter()
        .filter_map(|v| serde_json::from_value::<WireAsset>(v).ok())
        .filter_map(WireAsset::into_asset)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_asset_reads_with_nulls_and_missing_fields() {
        let asset = parse_one(
            r#"{"id":"b0b6dd9d","class":"us_equity","exchange":"NASDAQ","symbol":"AAPL",
                "name":null,"status":"active","tradable":true,"fractionable":true}"#,
        )
        .unwrap();
        assert_eq!(asset.symbol, "AAPL");
        assert_eq!(asset.name, "");
        assert!(asset.tradable && asset.fractionable && !asset.shortable);
        assert_eq!(
            parse_one(r#"{"class":"crypto"}"#),
            Err(BrokerError::BadGateway)
        );
    }

    #[test]
    fn a_list_keeps_the_assets_it_can_read() {
        let list = parse_list(
            r#"[{"class":"crypto","symbol":"BTC/USD","tradable":true},{"symbol":1},{"class":"us_equity"}]"#,
        )
        .unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].class, "crypto");
        assert!(parse_list("{}").is_err());
    }
}
