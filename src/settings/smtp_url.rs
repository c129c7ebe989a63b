//! `SMTP_URL`'s shape, checked at startup: lettre's URL form, `smtps://` (implicit TLS),
//! `smtp://…?tls=required` (STARTTLS), and plain `smtp://` only to a loopback host.

use super::ConfigError;

/// Checks an `SMTP_URL` without revealing it (it may hold a password).
pub fn check_smtp_url(raw: &str) -> Result<(), ConfigError> {
    let fail = |problem: &str| ConfigError {
        variable: "SMTP_URL",
        problem: problem.to_owned(),
    };
    let url = url::Url::parse(raw).map_err(|_| fail("is not a URL"))?;
    let tls_required = url
        .query_pairs()
        .any(|(k, v)| k == "tls" && v == "required");
    let loopback = match url.host() {
        // `smtp:` is not a special scheme to the URL parser, so an IP host arrives as a domain.
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost")
                || d.trim_matches(['[', ']'])
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(fail("has no host")),
    };
    match url.scheme() {
        "smtps" => Ok(()),
        "smtp" if tls_required || loopback => Ok(()),
        "smtp" => Err(fail(
            "must use smtps:// or ?tls=required (plain SMTP only to a loopback host)",
        )),
        _ => Err(fail("must be an smtp:// or smtps:// URL")),
    }
}
