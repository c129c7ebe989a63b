//! The names of orders and of requests about them: the [`ClientOrderId`] Raptor sends, the
//! [`IdempotencyKey`] a client chose (which orders to list: `super::listing`).

use std::fmt;

pub use raptor_actors::broker::OrderId;

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

    /// The id for `user`'s replacement of the broker order `replaced` under `key`: stable per
    /// key and order, and never the id of a submission.
    pub fn for_replacement(user: uuid::Uuid, replaced: &str, key: &IdempotencyKey) -> Self {
        use sha2::{Digest, Sha256};
        let digest = Sha256::new()
            .chain_update(user.as_bytes())
            .chain_update(b"\0replace\0")
            .chain_update(replaced.as_bytes())
            .chain_update(b"\0")
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
}
