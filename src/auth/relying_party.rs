//! The relying party's ceremonies: the adjustments Raptor makes to webauthn-rs's (the relying
//! party itself is configured from `WEBAUTHN_*` in `startup::wiring`).

use webauthn_rs::prelude::CreationChallengeResponse;
use webauthn_rs_proto::ResidentKeyRequirement;

/// Asks for a discoverable credential, so the passkey can later sign in without an email
/// (autofill). webauthn-rs asks for `residentKey: "discouraged"`, which makes browsers create
/// non-discoverable credentials. The legacy `requireResidentKey` boolean stays false: browsers
/// that know `residentKey` follow it, and it is the field the test software authenticator reads.
pub fn require_resident_key(ccr: &mut CreationChallengeResponse) {
    if let Some(selection) = ccr.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Required);
    }
}
