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
#[derive(Clone)]
pub struct TokenHasher {
    current: Arc<SecretBox<[u8]>>,
    previous: Option<Arc<SecretBox<[u8]>>>,
}

impl std::fmt::Debug for TokenHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenHasher([REDACTED])")
    }
}

impl TokenHasher {
    pub fn new(current: Arc<SecretBox<[u8]>>, previous: Option<Arc<SecretBox<[u8]>>>) -> Self {
        Self { current, previous }
    }

    /// The digest to store for `token`, under the current key. `purpose` separates token kinds,
    /// so a session token can never be replayed as an email token.
    pub fn digest(&self, purpose: &str, token: &str) -> String {
        hmac_hex(self.current.expose_secret(), purpose, token)
    }

    /// Every digest `token` may be stored under: current key first, then the previous one.
    pub fn candidates(&self, purpose: &str, token: &str) -> Vec<String> {
        let mut all = vec![self.digest(purpose, token)];
        if let Some(previous) = &self.previous {
            all.push(hmac_hex(previous.expose_secret(), purpose, token));
        }
        all
    }
}

fn hmac_hex(key: &[u8], purpose: &str, token: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
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
}
