//! The names of orders and of requests about them: the [`ClientOrderId`] Raptor sends, the
//! [`IdempotencyKey`] a client chose, and [`OrderQuery`], which orders to list.

use std::collections::HashSet;
use std::fmt;

use raptor_actors::broker::ticket::MAX_PAGE;
pub use raptor_actors::broker::OrderId;
use raptor_actors::broker::{ListStatus, OrderListing};

use crate::input::{InvalidInput, Problems};

/// The id under which the broker knows an order we sent. Raptor always chooses it (derived from
/// the user and their idempotency key, or random), so users of the shared paper account can
/// never collide.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientOrderId(String);

impl ClientOrderId {
    /// The id for `user`'s submission under `key`: the same key always yields the same id, so
    /// even a retry the ledger lost is refused by the broker as a duplicate.
    pub fn for_key(user: uuid::Uuid, key: &IdempotencyKey) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(user.as_bytes())
            .chain_update(key.as_str().as_bytes())
            .finalize();
        Self(format!("rx-{}", &hex::encode(digest)[..40]))
    }

    /// A fresh id for a submission without an idempotency key.
    pub fn random() -> Self {
        Self(format!("rx-{}", uuid::Uuid::new_v4().simple()))
    }

    /// Accepts an id read back from the ledger or the broker.
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > 128 || !raw.chars().all(|c| c.is_ascii_graphic()) {
            return Err("must be 1 to 128 printable characters".into());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An idempotency key a client chose (`Idempotency-Key` or its own `client_order_id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// 1–128 printable ASCII characters.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let key = raw.trim();
        if key.is_empty() || key.len() > 128 || !key.chars().all(|c| c.is_ascii_graphic()) {
            return Err("must be 1 to 128 printable characters without spaces".into());
        }
        Ok(Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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

/// `GET /api/trading/orders`: which orders, and at most how many (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderQuery {
    pub status: OrderStatusFilter,
    pub limit: u16,
}

impl OrderQuery {
    /// Alpaca's own bounds: at most 500 orders a page.
    pub const MAX_LIMIT: u16 = MAX_PAGE;
    pub const DEFAULT_LIMIT: u16 = 50;

    /// `status` is open (the default), closed or all; `limit` is 1–500 (default 50).
    pub fn parse(status: Option<&str>, limit: Option<&str>) -> Result<Self, InvalidInput> {
        let mut p = Problems::default();
        let status = p.take(
            "status",
            match status {
                None | Some("open") => Ok(OrderStatusFilter::Open),
                Some("closed") => Ok(OrderStatusFilter::Closed),
                Some("all") => Ok(OrderStatusFilter::All),
                Some(_) => Err("must be open, closed or all".to_owned()),
            },
        );
        let limit = p.take(
            "limit",
            match limit.map(str::parse::<u16>) {
                None => Ok(Self::DEFAULT_LIMIT),
                Some(Ok(n)) if (1..=Self::MAX_LIMIT).contains(&n) => Ok(n),
                Some(_) => Err(format!(
                    "must be a whole number from 1 to {}",
                    Self::MAX_LIMIT
                )),
            },
        );
        p.finish(|| {
            Some(OrderQuery {
                status: status?,
                limit: limit?,
            })
        })
    }
}

impl OrderQuery {
    /// What the broker is asked for; `only` keeps the orders with those client order ids.
    pub fn listing(self, only: Option<HashSet<String>>) -> OrderListing {
        OrderListing {
            status: match self.status {
                OrderStatusFilter::Open => ListStatus::Open,
                OrderStatusFilter::Closed => ListStatus::Closed,
                OrderStatusFilter::All => ListStatus::All,
            },
            limit: self.limit,
            only,
        }
    }
}

/// Every name both ways, and each bound at its edge.
#[cfg(test)]
mod mutation_tests {
    use super::*;

    #[test]
    fn client_order_ids_are_ours_stable_per_key_and_distinct_per_user() {
        let key = IdempotencyKey::parse("order-1").unwrap();
        let user = uuid::Uuid::from_u128(7);
        let id = ClientOrderId::for_key(user, &key);
        assert_eq!(id, ClientOrderId::for_key(user, &key));
        assert_ne!(id, ClientOrderId::for_key(uuid::Uuid::from_u128(8), &key));
        let other_key = IdempotencyKey::parse("order-2").unwrap();
        assert_ne!(id, ClientOrderId::for_key(user, &other_key));
        assert!(id.as_str().starts_with("rx-"));
        assert_eq!(id.as_str().len(), 43);
        assert!(id.as_str()[3..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(id.to_string(), id.as_str());

        let random = ClientOrderId::random();
        assert_ne!(random, ClientOrderId::random());
        assert!(random.as_str().starts_with("rx-"));
        assert_eq!(random.as_str().len(), 35);
    }

    #[test]
    fn client_order_ids_read_back_are_1_to_128_printable_characters() {
        let longest = "c".repeat(128);
        assert_eq!(
            ClientOrderId::parse(&longest).map(|id| id.as_str().to_owned()),
            Ok(longest)
        );
        for bad in ["", "has space", "tab\t", "é"] {
            assert!(ClientOrderId::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ClientOrderId::parse(&"c".repeat(129)).is_err());
        assert_eq!(ClientOrderId::parse("x").unwrap().as_str(), "x");
    }

    #[test]
    fn idempotency_keys_are_trimmed_and_1_to_128_printable_characters() {
        let longest = "k".repeat(128);
        assert_eq!(IdempotencyKey::parse(&longest).unwrap().as_str(), longest);
        assert_eq!(IdempotencyKey::parse("  key-1 ").unwrap().as_str(), "key-1");
        let error = Err("must be 1 to 128 printable characters without spaces".to_owned());
        for bad in ["", "   ", "a b", "ключ", "a\u{7f}"] {
            assert_eq!(IdempotencyKey::parse(bad).map(|k| k.0), error, "{bad:?}");
        }
        assert_eq!(IdempotencyKey::parse(&"k".repeat(129)).map(|k| k.0), error);
    }

    #[test]
    fn order_queries_name_their_status_and_reach_the_broker_as_asked() {
        for (name, status, list) in [
            ("open", OrderStatusFilter::Open, ListStatus::Open),
            ("closed", OrderStatusFilter::Closed, ListStatus::Closed),
            ("all", OrderStatusFilter::All, ListStatus::All),
        ] {
            let query = OrderQuery::parse(Some(name), Some("1")).unwrap();
            assert_eq!(query.status, status);
            assert_eq!(status.as_str(), name);
            assert_eq!(query.limit, 1);
            let only: HashSet<String> = ["rx-1".to_owned()].into();
            assert_eq!(
                query.listing(Some(only.clone())),
                OrderListing {
                    status: list,
                    limit: 1,
                    only: Some(only)
                }
            );
        }
        assert_eq!(
            OrderQuery::parse(None, Some("500")).unwrap().limit,
            OrderQuery::MAX_LIMIT
        );
        let both = OrderQuery::parse(Some("done"), Some("0")).unwrap_err();
        let fields: Vec<&str> = both.problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["status", "limit"]);
    }
}
