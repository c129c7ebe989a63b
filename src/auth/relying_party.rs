//! The relying party: webauthn-rs configured from `WEBAUTHN_RP_ID`, `WEBAUTHN_RP_NAME` and
//! `WEBAUTHN_ORIGIN`, plus the adjustments Raptor makes to its ceremonies.

use webauthn_rs::prelude::{CreationChallengeResponse, Url};
use webauthn_rs::{Webauthn, WebauthnBuilder};
use webauthn_rs_proto::ResidentKeyRequirement;

use crate::settings::{ConfigError, Settings};

/// The relying party, or `None` when passkeys are not configured (auth routes then answer 503).
pub fn relying_party(settings: &Settings) -> Result<Option<Webauthn>, ConfigError> {
    let w = &settings.webauthn;
    let (Some(rp_id), Some(origin)) = (&w.rp_id, &w.origin) else {
        if settings.app_env.is_deployed() {
            let missing = if w.rp_id.is_none() {
                "WEBAUTHN_RP_ID"
            } else {
                "WEBAUTHN_ORIGIN"
            };
            return Err(ConfigError {
                variable: missing,
                problem: "is required".into(),
            });
        }
        return Ok(None);
    };
    let fail = |variable, problem: &str| ConfigError {
        variable,
        problem: problem.to_owned(),
    };
    let origin = Url::parse(origin).map_err(|_| fail("WEBAUTHN_ORIGIN", "is not a URL"))?;
    let builder = WebauthnBuilder::new(rp_id, &origin)
        .map_err(|_| {
            fail(
                "WEBAUTHN_RP_ID",
                "must be a domain that WEBAUTHN_ORIGIN belongs to",
            )
        })?
        .rp_name(w.rp_name.as_deref().unwrap_or("Raxx"));
    builder
        .build()
        .map(Some)
        .map_err(|_| fail("WEBAUTHN_ORIGIN", "is not usable with WEBAUTHN_RP_ID"))
}

/// Asks for a discoverable credential, so the passkey can later sign in without an email
/// (autofill). webauthn-rs asks for `residentKey: "discouraged"`, which makes browsers create
/// non-discoverable credentials. The legacy `requireResidentKey` boolean stays false: browsers
/// that know `residentKey` follow it, and it is the field the test software authenticator reads.
pub fn require_resident_key(ccr: &mut CreationChallengeResponse) {
    if let Some(selection) = ccr.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Required);
    }
}
