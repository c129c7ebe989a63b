//! The production log format: one JSON object a line, written by hand for speed.
//!
//! Every request writes an access-log line, so formatting is on the hot path. The JSON
//! formatters of tracing-subscriber and json-subscriber build `serde_json::Value` maps for
//! every event (callgrind: about a third of a `/health` request's instructions); this layer
//! renders each span's fields to a JSON fragment once, when the span is created, and an event
//! into one reused per-thread buffer, with one `write` to the (buffered, non-blocking) writer.
//!
//! A line: `{"timestamp":…,"level":…,"target":…,"message":…,<event fields>,<span fields>}`,
//! span fields from the innermost span out (a key a span shares with an event or an inner span
//! appears once per holder; readers keep the first).

use std::cell::{Cell, RefCell};
use std::fmt::{self, Write as _};
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The layer; `W` makes the writer each line goes to.
pub struct JsonLines<W> {
    make_writer: W,
}

impl<W> JsonLines<W> {
    pub fn new(make_writer: W) -> Self {
        Self { make_writer }
    }
}

/// A span's fields as a JSON fragment: `"key":value` pairs, each preceded by a comma.
struct SpanFields(String);

thread_local! {
    static LINE: RefCell<String> = RefCell::new(String::with_capacity(512));
    static CLOCK: RefCell<Clock> = RefCell::new(Clock::default());
    static PLAIN_CALLSITE: Cell<usize> = const { Cell::new(0) };
}

impl<S, W> Layer<S> for JsonLines<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = String::with_capacity(128);
        attrs.record(&mut Fields::new(&mut fields));
        span.extensions_mut().insert(SpanFields(fields));
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
            values.record(&mut Fields::new(fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        let plain_names = plain_names(metadata);
        write_line(
            &self.make_writer,
            metadata.level(),
            metadata.target(),
            plain_names,
            |line| {
                event.record(&mut Fields {
                    out: line,
                    plain_keys: plain_names,
                });
                write_request(line);
                if let Some(scope) = ctx.event_scope(event) {
                    for span in scope {
                        if let Some(SpanFields(fields)) = span.extensions().get::<SpanFields>() {
                            line.push_str(fields);
                        }
                    }
                }
            },
        );
    }
}

/// Writes one line, `{"timestamp":…,"level":…,"target":…` then what `fields` appends, into this
/// thread's buffer and then to `make_writer`'s writer. `plain_target`: the target needs no
/// escaping.
fn write_line<W: for<'w> MakeWriter<'w>>(
    make_writer: &W,
    level: &Level,
    target: &str,
    plain_target: bool,
    fields: impl FnOnce(&mut String),
) {
    LINE.with(|line| {
        let Ok(mut line) = line.try_borrow_mut() else {
            return; // an event logged while formatting one: dropped, never a panic
        };
        line.clear();
        line.push_str("{\"timestamp\":\"");
        CLOCK.with(|clock| clock.borrow_mut().write_now(&mut line));
        line.push_str("\",\"level\":\"");
        line.push_str(level.as_str());
        line.push_str("\",\"target\":");
        if plain_target {
            line.push('"');
            line.push_str(target);
            line.push('"');
        } else {
            push_string(&mut line, target);
        }
        fields(&mut line);
        line.push_str("}\n");
        let _ = make_writer.make_writer().write_all(line.as_bytes());
    });
}

/// The access-log line of the request being handled: what the layer writes for
/// `tracing::info!(target: ACCESS_TARGET, message = "served", status, latency_ms)`, written
/// without going through `tracing` (it is the one line every request writes).
pub(super) fn write_served<W: for<'w> MakeWriter<'w>>(
    make_writer: &W,
    status: u16,
    latency_ms: u64,
) {
    write_line(make_writer, &Level::INFO, ACCESS_TARGET, true, |line| {
        line.push_str(",\"message\":\"served\",\"status\":");
        line.push_str(itoa::Buffer::new().format(status));
        line.push_str(",\"latency_ms\":");
        line.push_str(itoa::Buffer::new().format(latency_ms));
        write_request(line);
    });
}

/// The target of the access-log line: the edge, which writes it.
pub(super) const ACCESS_TARGET: &str = "raptor::http::edge";

/// Whether the target and the field names of an event's callsite need no escaping (they are
/// `'static` text, almost always identifiers). The answer for the last callsite seen on this
/// thread is kept: a burst of one event (the access log) checks its names once.
fn plain_names(metadata: &'static Metadata<'static>) -> bool {
    let callsite = metadata as *const Metadata<'static> as usize;
    PLAIN_CALLSITE.with(|last| {
        if last.get() == callsite {
            return true;
        }
        let plain = !needs_escape(metadata.target())
            && metadata.fields().iter().all(|f| !needs_escape(f.name()));
        if plain {
            last.set(callsite);
        }
        plain
    })
}

/// Appends fields as `,"key":value` pairs.
struct Fields<'a> {
    out: &'a mut String,
    /// The keys need no escaping ([`plain_names`]).
    plain_keys: bool,
}

impl<'a> Fields<'a> {
    fn new(out: &'a mut String) -> Self {
        Self {
            out,
            plain_keys: false,
        }
    }

    fn key(&mut self, field: &Field) {
        self.out.push_str(",\"");
        if self.plain_keys {
            self.out.push_str(field.name());
        } else {
            let _ = Escaped(self.out).write_str(field.name());
        }
        self.out.push_str("\":");
    }
}

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        push_string(self.out, value);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.out.push_str(if value { "true" } else { "false" });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        self.out.push_str(itoa::Buffer::new().format(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        self.out.push_str(itoa::Buffer::new().format(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        if value.is_finite() {
            let _ = write!(self.out, "{value}");
        } else {
            push_string(self.out, &value.to_string());
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        self.out.push('"');
        let _ = write!(Escaped(self.out), "{value:?}");
        self.out.push('"');
    }
}

/// Appends the fields of the request being handled, if any ([`super::request`]), as
/// `,"key":value` pairs.
fn write_request(out: &mut String) {
    super::request::with_current(|request| {
        // Ids, methods and UUIDs never need escaping; a path may.
        out.push_str(",\"request_id\":\"");
        out.push_str(request.id.as_str());
        if let Some(client_id) = request.client_id() {
            out.push_str("\",\"client_request_id\":\"");
            out.push_str(client_id);
        }
        out.push_str("\",\"method\":\"");
        out.push_str(request.method.as_str());
        out.push_str("\",\"path\":");
        push_string(out, request.uri.path());
        if let Some(user_id) = request.user_id() {
            out.push_str(",\"user_id\":\"");
            out.push_str(
                user_id
                    .hyphenated()
                    .encode_lower(&mut uuid::Uuid::encode_buffer()),
            );
            out.push('"');
        }
    });
}

/// `value` as a JSON string.
fn push_string(out: &mut String, value: &str) {
    out.push('"');
    let _ = Escaped(out).write_str(value);
    out.push('"');
}

/// The bytes a JSON string cannot hold as they are: control characters, `"` and `\`.
const NEEDS_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

fn needs_escape(text: &str) -> bool {
    text.bytes().any(|b| NEEDS_ESCAPE[usize::from(b)])
}

/// Writes text into a JSON string's body, escaping what JSON requires.
struct Escaped<'a>(&'a mut String);

impl fmt::Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Most text (keys, ids, paths, messages) needs no escaping: one scan, one copy.
        if !needs_escape(s) {
            self.0.push_str(s);
            return Ok(());
        }
        let mut plain = 0;
        for (i, b) in s.bytes().enumerate() {
            let escape = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.push_str(&s[plain..i]);
            if escape.is_empty() {
                let _ = write!(self.0, "\\u{b:04x}");
            } else {
                self.0.push_str(escape);
            }
            plain = i + 1;
        }
        self.0.push_str(&s[plain..]);
        Ok(())
    }
}

/// RFC 3339 UTC timestamps with microseconds; the date and time up to the second are formatted
/// once a second per thread.
#[derive(Default)]
struct Clock {
    second: i64,
    prefix: String,
}

impl Clock {
    fn write_now(&mut self, out: &mut String) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let second = now.as_secs() as i64;
        if second != self.second || self.prefix.is_empty() {
            self.second = second;
            self.prefix.clear();
            let date = chrono::DateTime::from_timestamp(second, 0).unwrap_or_default();
            let _ = write!(self.prefix, "{}", date.format("%Y-%m-%dT%H:%M:%S"));
        }
        out.push_str(&self.prefix);
        // `.` and six digits of microseconds (1_000_000 + µs prints as 7 digits: drop the 1).
        let micros = 1_000_000 + now.subsec_micros();
        out.push('.');
        out.push_str(&itoa::Buffer::new().format(micros)[1..]);
        out.push('Z');
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(log: impl FnOnce()) -> Vec<serde_json::Value> {
        let out = Lines::default();
        let writer = out.clone();
        let subscriber =
            tracing_subscriber::registry().with(JsonLines::new(move || writer.clone()));
        tracing::subscriber::with_default(subscriber, log);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    #[test]
    fn events_carry_their_fields_and_those_of_their_spans_as_valid_json() {
        let lines = lines(|| {
            let outer = tracing::info_span!(
                "request",
                request_id = "r-1",
                user_id = tracing::field::Empty
            );
            let _outer = outer.enter();
            outer.record("user_id", tracing::field::display("u-7"));
            let inner = tracing::info_span!("inner", step = 2_u64);
            let _inner = inner.enter();
            tracing::warn!(
                status = 503_u64,
                ok = false,
                ratio = 0.5,
                delta = -3_i64,
                "served"
            );
        });
        let line = &lines[0];
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "served");
        assert_eq!(line["status"], 503);
        assert_eq!(line["ok"], false);
        assert_eq!(line["ratio"], 0.5);
        assert_eq!(line["delta"], -3);
        assert_eq!(line["step"], 2);
        assert_eq!(line["request_id"], "r-1");
        assert_eq!(line["user_id"], "u-7");
        assert!(line["target"].as_str().unwrap().contains("json_lines"));
        let stamp = line["timestamp"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(stamp).is_ok(),
            "{stamp}"
        );
        let fraction = stamp.rsplit('.').next().unwrap();
        assert!(
            fraction.len() == 7 && fraction.ends_with('Z'),
            "six digits of microseconds: {stamp}"
        );
    }

    #[test]
    fn names_are_escaped_unless_known_plain_and_the_cache_follows_the_callsite() {
        let lines = lines(|| {
            for n in 0..2_u64 {
                tracing::info!(plain = n, "first");
                tracing::info!("quo\"ted" = n, "second");
            }
        });
        assert_eq!(lines.len(), 4);
        for pair in lines.chunks(2) {
            assert!(pair[0]["plain"].is_u64(), "{}", pair[0]);
            assert!(pair[1]["quo\"ted"].is_u64(), "{}", pair[1]);
        }
    }

    #[test]
    fn lines_written_while_a_request_runs_carry_its_fields() {
        use super::super::request::{self, RequestId, RequestLog};
        let id = RequestId::new();
        let user = uuid::Uuid::new_v4();
        let log = RequestLog::new(
            id,
            Some(axum::http::HeaderValue::from_static("heroku-abc123")),
            axum::http::Method::POST,
            "/api/x?secret=1".parse().unwrap(),
            Some([203, 0, 113, 9].into()),
        );
        let lines = lines(|| {
            tracing::info!("outside");
            request::sync_scope(std::sync::Arc::new(log), || {
                tracing::info!("before");
                request::record_user(user);
                tracing::info!("after");
            });
        });
        assert!(lines[0].get("request_id").is_none(), "{}", lines[0]);
        assert_eq!(lines[1]["request_id"], id.as_str());
        assert_eq!(lines[1]["client_request_id"], "heroku-abc123");
        assert_eq!(lines[1]["method"], "POST");
        assert_eq!(lines[1]["path"], "/api/x", "the query is never logged");
        assert!(lines[1].get("user_id").is_none());
        assert!(
            !lines[1].to_string().contains("203.0.113.9"),
            "the peer address is never logged"
        );
        assert_eq!(lines[2]["user_id"], user.to_string());
    }

    #[test]
    fn the_access_line_is_the_line_the_layer_writes_for_the_same_event() {
        use super::super::request::{self, RequestId, RequestLog};
        let log = std::sync::Arc::new(RequestLog::new(
            RequestId::new(),
            None,
            axum::http::Method::GET,
            "/health?x=1".parse().unwrap(),
            None,
        ));
        let out = Lines::default();
        let writer = out.clone();
        let make_writer = move || writer.clone();
        let lines = lines(|| {
            request::sync_scope(log, || {
                write_served(&make_writer, 503, 12);
                tracing::info!(target: ACCESS_TARGET, message = "served", status = 503_u16, latency_ms = 12_u64);
            })
        });
        let direct = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let mut direct: serde_json::Value = serde_json::from_str(direct.trim_end()).unwrap();
        let mut traced = lines[0].clone();
        for line in [&mut direct, &mut traced] {
            assert!(line["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
            line["timestamp"] = serde_json::Value::Null;
        }
        assert_eq!(direct, traced);
        assert_eq!(direct["path"], "/health");
        assert_eq!(direct["status"], 503);
    }

    #[test]
    fn text_that_needs_escaping_stays_one_valid_line() {
        let nasty = "quote \" backslash \\ newline \n tab \t bell \u{7} unicode é";
        let lines = lines(|| tracing::error!(detail = nasty, debug = ?nasty, "{nasty}"));
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["detail"], nasty);
        assert_eq!(lines[0]["message"], nasty);
        assert_eq!(lines[0]["debug"], format!("{nasty:?}"));
    }
}
