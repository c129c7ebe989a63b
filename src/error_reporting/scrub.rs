//! The scrubber every event passes through (`before_send`) before it may leave the process.
//!
//! What is removed, wherever it appears:
//! - the request itself: URL and query string, headers (cookies, `Authorization`, `APCA-*`),
//!   cookies, body, environment. Raptor never attaches one; an integration added later might.
//! - the user's email, username and IP address (only the pseudonymous id is kept);
//! - breadcrumbs (they are off too, `max_breadcrumbs = 0`);
//! - in free text (messages, exception values, extra data, tags other than ours): emails, IP
//!   addresses, credentials in URLs, the values of `token=`/`secret=`/`password=`/…, of
//!   `Cookie:`/`Authorization:`/`APCA-…:` and of `Bearer`/`Basic`, query strings, and any long
//!   run of letters and digits that looks like a token or key.
//!
//! Over-scrubbing (a UUID in a message, say) is the accepted price: the event's `request_id`
//! tag leads to the full log line, which stays on our side.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::LazyLock;

use regex::{Captures, Regex};
use sentry::protocol::{Event, User, Value};

/// Tags Raptor sets itself from known-safe values; every other tag is scrubbed like text.
const OWN_TAGS: [&str; 4] = ["request_id", "route", "status", "error_code"];

/// Names whose value is a secret or personal data, in `name=value`, `name: value` or a map key.
const SENSITIVE_NAME: &str = r"(?i)(?:authorization|cookie|set-cookie|apca-api-[a-z-]+|x-api-key|api[_-]?key|access[_-]?token|refresh[_-]?token|token|secret|password|passwd|session|email|signature|credential)";

static HEADER_LINE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?im)\b(authorization|proxy-authorization|cookie|set-cookie|apca-api-[a-z-]+)\s*:\s*[^\r\n]*")
        .expect("a valid pattern")
});
static KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"(\b[\w-]*{SENSITIVE_NAME}[\w-]*"?\s*[=:]\s*)("[^"]*"|[^\[\s,;&"'<>)\]}}][^\s,;&"'<>)\]}}]*)"#
    ))
    .expect("a valid pattern")
});
static AUTH_SCHEME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+").expect("a valid pattern")
});
static URL_CREDENTIALS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"://[^/\s@]+@").expect("a valid pattern"));
static QUERY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"\?[^\s"'<>?]*=[^\s"'<>]*"#).expect("a valid pattern"));
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
        .expect("a valid pattern")
});
static IPV6: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}")
        .expect("a valid pattern")
});
static IPV4: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d{1,3}(?:\.\d{1,3}){3}\b").expect("a valid pattern"));
static LONG_TOKEN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9_-]{16,}").expect("a valid pattern"));
static SENSITIVE_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(SENSITIVE_NAME).expect("a valid pattern"));

const REDACTED: &str = "[redacted]";

/// The `before_send` hook: the event with everything above removed.
pub fn event(mut event: Event<'static>) -> Option<Event<'static>> {
    event.request = None;
    event.breadcrumbs = Default::default();
    event.user = event.user.and_then(|user| {
        user.id.map(|id| User {
            id: Some(id),
            ..Default::default()
        })
    });
    event.message = event.message.as_deref().map(text);
    event.culprit = event.culprit.as_deref().map(text);
    if let Some(entry) = event.logentry.as_mut() {
        entry.message = text(&entry.message);
        entry.params.iter_mut().for_each(|v| value(None, v));
    }
    for exception in event.exception.values.iter_mut() {
        exception.value = exception.value.as_deref().map(text);
    }
    scrub_map(event.extra.iter_mut());
    for (key, tag) in event.tags.iter_mut() {
        if !OWN_TAGS.contains(&key.as_str()) {
            *tag = text(tag);
        }
    }
    // Only the trace context (ids that link events) is kept; Raptor sets no other.
    event.contexts.retain(|name, _| name == "trace");
    Some(event)
}

/// `s` with secrets and personal data replaced.
pub fn text(s: &str) -> String {
    let s = HEADER_LINE.replace_all(s, |c: &Captures| format!("{}: {REDACTED}", &c[1]));
    let s = KEY_VALUE.replace_all(&s, |c: &Captures| format!("{}{REDACTED}", &c[1]));
    let s = AUTH_SCHEME.replace_all(&s, |c: &Captures| format!("{} {REDACTED}", &c[1]));
    let s = URL_CREDENTIALS.replace_all(&s, "://[redacted]@");
    let s = QUERY.replace_all(&s, "?[redacted]");
    let s = EMAIL.replace_all(&s, "[email]");
    let s = IPV6.replace_all(&s, |c: &Captures| {
        let candidate = &c[0];
        if candidate.parse::<Ipv6Addr>().is_ok() {
            "[ip]".to_owned()
        } else {
            candidate.to_owned()
        }
    });
    let s = IPV4.replace_all(&s, |c: &Captures| {
        let candidate = &c[0];
        if candidate.parse::<Ipv4Addr>().is_ok() {
            "[ip]".to_owned()
        } else {
            candidate.to_owned()
        }
    });
    let s = LONG_TOKEN.replace_all(&s, |c: &Captures| {
        let run = &c[0];
        if run.bytes().any(|b| b.is_ascii_digit()) {
            REDACTED.to_owned()
        } else {
            run.to_owned()
        }
    });
    s.into_owned()
}

/// The values of a map (Sentry's `extra`, a JSON object), by key.
fn scrub_map<'a>(entries: impl IntoIterator<Item = (&'a String, &'a mut Value)>) {
    for (key, v) in entries {
        value(Some(key), v);
    }
}

/// A JSON value: strings scrubbed as text, every value under a sensitive key replaced.
fn value(key: Option<&str>, v: &mut Value) {
    if key.is_some_and(|k| SENSITIVE_KEY.is_match(k)) {
        *v = Value::from(REDACTED);
        return;
    }
    match v {
        Value::String(s) => *s = text(s),
        Value::Array(items) => items.iter_mut().for_each(|item| value(None, item)),
        Value::Object(map) => scrub_map(map.iter_mut()),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use sentry::protocol::{Breadcrumb, Exception, Map, Request};

    use super::*;

    const SESSION: &str = "q3Xb7RkP0aZt9LmN2vYw5sQe8UcHj4FdGi1KoBnVx6M";
    const KEY_ID: &str = "PK-TEST-KEY-ID-0000-0001";
    const SECRET: &str = "s3CrEtVaLuE0fAlPaCa1234567890abcdefGHIJK";

    fn assert_clean(scrubbed: &str) {
        for secret in [
            SESSION,
            KEY_ID,
            SECRET,
            "alice@example.com",
            "203.0.113.77",
            "2001:db8::7",
            "hunter2",
        ] {
            assert!(
                !scrubbed.contains(secret),
                "{secret} survived in {scrubbed}"
            );
        }
    }

    #[test]
    fn emails_ips_and_credentials_leave_free_text() {
        let raw = format!(
            "duplicate key: Key (email)=(alice@example.com) from 203.0.113.77 and [2001:db8::7]:443; \
             GET https://paper-api.alpaca.markets/v2/orders?token={SESSION}&x=1 \
             cookie: session={SESSION}; theme=dark\n\
             Authorization: Bearer {SECRET}\n\
             APCA-API-KEY-ID: {KEY_ID}\n\
             password=hunter2, postgres://raptor:hunter2@db.internal:5432/raptor, key {KEY_ID}"
        );
        let scrubbed = text(&raw);
        assert_clean(&scrubbed);
        assert!(scrubbed.contains("duplicate key"), "{scrubbed}");
        assert!(scrubbed.contains("[email]") && scrubbed.contains("[ip]"));
    }

    #[test]
    fn ordinary_diagnostics_stay_readable() {
        for keep in [
            "relation \"orders\" does not exist",
            "connection refused at src/http/trading/orders.rs:42:9",
            "broker timed out after 10s (request_timeout)",
            "route /api/trading/orders/{id} answered 500 at 2026-11-25T06:34:54Z",
        ] {
            assert_eq!(text(keep), keep);
        }
    }

    #[test]
    fn an_event_keeps_no_request_user_details_or_breadcrumbs() {
        let mut extra = Map::new();
        extra.insert("cookie".into(), Value::from(SESSION));
        extra.insert(
            "detail".into(),
            serde_json::json!({"note": "from alice@example.com", "apca-api-secret-key": SECRET}),
        );
        let event = Event {
            message: Some(format!("failed for alice@example.com with token={SESSION}")),
            exception: vec![Exception {
                ty: "panic".into(),
                value: Some(format!("Authorization: Bearer {SECRET}")),
                ..Default::default()
            }]
            .into(),
            request: Some(Request {
                url: format!("https://raxx.app/api/x?token={SESSION}")
                    .parse()
                    .ok(),
                data: Some(r#"{"email":"alice@example.com"}"#.into()),
                cookies: Some(format!("session={SESSION}")),
                headers: [("APCA-API-KEY-ID".to_owned(), KEY_ID.to_owned())].into(),
                ..Default::default()
            }),
            user: Some(User {
                id: Some("42".into()),
                email: Some("alice@example.com".into()),
                ip_address: Some("203.0.113.77".parse().unwrap()),
                ..Default::default()
            }),
            breadcrumbs: vec![Breadcrumb {
                message: Some("login by alice@example.com from 203.0.113.77".into()),
                ..Default::default()
            }]
            .into(),
            extra,
            tags: [
                (
                    "request_id".to_owned(),
                    "3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60".to_owned(),
                ),
                ("client".to_owned(), "203.0.113.77".to_owned()),
            ]
            .into(),
            ..Default::default()
        };
        let scrubbed = super::event(event).expect("the event is kept");
        assert_clean(&serde_json::to_string(&scrubbed).unwrap());
        assert!(scrubbed.request.is_none());
        assert_eq!(scrubbed.user.unwrap().id.as_deref(), Some("42"));
        assert_eq!(
            scrubbed.tags["request_id"],
            "3f1c2a9e-8b7d-4c6e-9f0a-1b2c3d4e5f60"
        );
    }
}
