//! Bearer secrets (session cookies, email and bootstrap tokens): minted here, stored only as an
//! HMAC-SHA256 under `SECRET_KEY`.
//!
//! During a key rotation `SECRET_KEY_PREVIOUS` still verifies: lookups try the digest under
//! both keys, new digests always use the current key.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;

/// A freshly minted token: 256 random bits, base64url. Shown once, never stored.
pub fn mint() -> SecretString {
    let bytes: [u8; 32] = rand::random();
    SecretString::from(URL_SAFE_NO_PAD.encode(bytes))
}

/// Keys the HMAC of stored tokens.
///
/// The keyed HMAC states are computed once (keying HMAC-SHA256 costs two SHA-256 blocks) and
/// cloned for each digest: a session check on every signed-in request needs two MACs.
#[derive(Clone)]
pub struct TokenHasher {
    keys: Arc<Keys>,
}

struct Keys {
    current: Hmac<Sha256>,
    previous: Option<Hmac<Sha256>>,
}

impl std::fmt::Debug for TokenHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHasher([REDACTED])")
    }
}

impl TokenHasher {
    /// A hasher keyed by `current`, still verifying digests made under `previous` (a rotation).
    pub fn new(current: Arc<SecretBox<[u8]>>, previous: Option<Arc<SecretBox<[u8]>>>) -> Self {
        let keyed = |key: &SecretBox<[u8]>| {
            Hmac::<Sha256>::new_from_slice(key.expose_secret())
                .expect("HMAC takes keys of any length")
        };
        Self {
            keys: Arc::new(Keys {
                current: keyed(&current),
                previous: previous.as_deref().map(keyed),
            }),
        }
    }

    /// The digest to store for `token`, under the current key. `purpose` separates token kinds,
    /// so a session token can never be replayed as an email token.
    pub fn digest(&self, purpose: &str, token: &str) -> String {
        hmac_hex(&self.keys.current, purpose, token)
    }

    /// The digest of `token` under the previous key, while there is one.
    pub fn previous_digest(&self, purpose: &str, token: &str) -> Option<String> {
        let previous = self.keys.previous.as_ref()?;
        Some(hmac_hex(previous, purpose, token))
    }

    /// Every digest `token` may be stored under: current key first, then the previous one.
    pub fn candidates(&self, purpose: &str, token: &str) -> Vec<String> {
        let mut all = vec![self.digest(purpose, token)];
        all.extend(self.previous_digest(purpose, token));
        all
    }
}

/// Random bytes in a sealed token, and the tag's length.
const SEALED_RANDOM: usize = 32;
const SEAL_TAG: usize = 16;

impl TokenHasher {
    /// A token that proves it was minted here: 256 random bits followed by a 128-bit HMAC tag
    /// over them (under the current key), base64url, 64 characters. Shown once, never stored.
    pub fn mint_sealed(&self, purpose: &str) -> SecretString {
        let mut bytes = [0u8; SEALED_RANDOM + SEAL_TAG];
        bytes[..SEALED_RANDOM].copy_from_slice(&rand::random::<[u8; SEALED_RANDOM]>());
        let tag = seal_mac(&self.keys.current, purpose, &bytes[..SEALED_RANDOM])
            .finalize()
            .into_bytes();
        bytes[SEALED_RANDOM..].copy_from_slice(&tag[..SEAL_TAG]);
        SecretString::from(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// Whether `token` was minted by [`mint_sealed`](Self::mint_sealed) for `purpose` under the
    /// current or the previous key. Checked in constant time, with no lookup: a forged token is
    /// refused before any storage is asked.
    pub fn is_sealed(&self, purpose: &str, token: &str) -> bool {
        if token.len() != 64 {
            return false;
        }
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(token) else {
            return false;
        };
        if bytes.len() != SEALED_RANDOM + SEAL_TAG {
            return false;
        }
        let (random, tag) = bytes.split_at(SEALED_RANDOM);
        let keys = std::iter::once(&self.keys.current).chain(self.keys.previous.as_ref());
        keys.into_iter().any(|key| {
            seal_mac(key, purpose, random)
                .verify_truncated_left(tag)
                .is_ok()
        })
    }
}

fn seal_mac(keyed: &Hmac<Sha256>, purpose: &str, random: &[u8]) -> Hmac<Sha256> {
    let mut mac = keyed.clone();
    mac.update(b"seal\0");
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(random);
    mac
}

fn hmac_hex(keyed: &Hmac<Sha256>, purpose: &str, token: &str) -> String {
    let mut mac = keyed.clone();
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `token` has the shape of a minted token; anything else is refused before hashing.
pub fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Arc<SecretBox<[u8]>> {
        Arc::new(SecretBox::from(k.as_bytes().to_vec()))
    }

    #[test]
    fn previous_key_still_verifies_and_purposes_do_not_mix() {
        let old = TokenHasher::new(key("old-key"), None);
        let rotated = TokenHasher::new(key("new-key"), Some(key("old-key")));
        let token = mint();
        let stored = old.digest("session", token.expose_secret());
        assert!(rotated
            .candidates("session", token.expose_secret())
            .contains(&stored));
        assert_ne!(rotated.digest("session", token.expose_secret()), stored);
        assert_ne!(old.digest("email", token.expose_secret()), stored);
        assert!(well_formed(token.expose_secret()));
        assert!(!well_formed("short"));
    }

    #[test]
    fn sealed_tokens_verify_under_either_key_and_forgeries_do_not() {
        let old = TokenHasher::new(key("old-key"), None);
        let rotated = TokenHasher::new(key("new-key"), Some(key("old-key")));
        let other = TokenHasher::new(key("other-key"), None);
        let sealed = old.mint_sealed("session");
        let sealed = sealed.expose_secret();
        assert_eq!(sealed.len(), 64);
        assert!(old.is_sealed("session", sealed));
        assert!(rotated.is_sealed("session", sealed));
        assert!(!other.is_sealed("session", sealed));
        assert!(!old.is_sealed("email", sealed));
        let mut tampered = sealed.to_owned().into_bytes();
        tampered[0] = if tampered[0] == b'A' { b'B' } else { b'A' };
        assert!(!old.is_sealed("session", std::str::from_utf8(&tampered).unwrap()));
        assert!(!old.is_sealed("session", mint().expose_secret()));
        assert!(!old.is_sealed("session", "some-token"));
    }
}

/// The edges of the token shapes, and what a `Debug` print shows.
#[cfg(test)]
mod mutation_tests {
    use super::*;

    #[test]
    fn a_debug_print_never_shows_a_key() {
        let hasher = TokenHasher::new(Arc::new(SecretBox::from(b"very-secret-key".to_vec())), None);
        assert_eq!(format!("{hasher:?}"), "TokenHasher([REDACTED])");
    }

    #[test]
    fn well_formed_means_43_base64url_characters() {
        let body = "A".repeat(42);
        for ok in ['a', 'Z', '7', '-', '_'] {
            assert!(well_formed(&format!("{body}{ok}")), "{ok}");
        }
        for bad in ['+', '/', '=', '.', ' '] {
            assert!(!well_formed(&format!("{body}{bad}")), "{bad}");
        }
        assert!(!well_formed(&"A".repeat(44)));
        assert!(!well_formed(&body));
    }
}
