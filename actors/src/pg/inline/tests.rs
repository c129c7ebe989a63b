//! The rewriting, message by message (the integration tests run it through a real PgBouncer).

use super::*;

fn message(kind: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    put(&mut out, kind, parts);
    out
}

fn parse(name: &str, query: &str) -> Vec<u8> {
    let body = [query.as_bytes(), b"\0\0\0"].concat();
    message(b'P', &[name.as_bytes(), b"\0", &body])
}

fn bind(name: &str) -> Vec<u8> {
    message(b'B', &[b"\0", name.as_bytes(), b"\0", b"\0\0\0\0\0\0"])
}

fn describe(name: &str) -> Vec<u8> {
    message(b'D', &[b"S", name.as_bytes(), b"\0"])
}

fn sync() -> Vec<u8> {
    message(b'S', &[])
}

fn startup() -> Vec<u8> {
    let body = b"\0\x03\0\0user\0postgres\0\0";
    [&((body.len() + 4) as u32).to_be_bytes()[..], body].concat()
}

/// A rewriter past startup.
fn typed() -> Rewriter {
    let mut rewriter = Rewriter::default();
    let (mut input, mut output) = (startup(), Vec::new());
    rewriter.frontend(&mut input, &mut output);
    assert_eq!(output, startup(), "startup passes unchanged");
    rewriter
}

fn front(rewriter: &mut Rewriter, messages: &[Vec<u8>]) -> Vec<u8> {
    let (mut input, mut output) = (messages.concat(), Vec::new());
    rewriter.frontend(&mut input, &mut output);
    assert!(input.is_empty());
    output
}

fn back(rewriter: &mut Rewriter, kinds: &[u8]) -> Vec<u8> {
    let mut input: Vec<u8> = kinds.iter().flat_map(|&k| message(k, &[])).collect();
    let mut output = Vec::new();
    rewriter.backend(&mut input, &mut output);
    output.chunks(5).map(|m| m[0]).collect()
}

#[test]
fn a_named_statement_is_parsed_unnamed_and_parsed_again_before_each_bind() {
    let mut r = typed();
    let prepared = front(&mut r, &[parse("s7", "SELECT 1"), describe("s7"), sync()]);
    assert_eq!(
        prepared,
        [parse("", "SELECT 1"), describe(""), sync()].concat()
    );
    assert_eq!(back(&mut r, b"1tTZ"), b"1tTZ", "its own answers pass");

    let executed = front(
        &mut r,
        &[bind("s7"), message(b'E', &[b"\0\0\0\0\0"]), sync()],
    );
    let expected = [
        parse("", "SELECT 1"),
        bind(""),
        message(b'E', &[b"\0\0\0\0\0"]),
        sync(),
    ]
    .concat();
    assert_eq!(executed, expected);
    assert_eq!(
        back(&mut r, b"12DCZ"),
        b"2DCZ",
        "the injected ParseComplete is dropped"
    );
}

#[test]
fn one_exchange_that_parses_and_binds_parses_once() {
    let mut r = typed();
    let out = front(&mut r, &[parse("s1", "SELECT 2"), bind("s1"), sync()]);
    assert_eq!(out, [parse("", "SELECT 2"), bind(""), sync()].concat());
    assert_eq!(back(&mut r, b"12CZ"), b"12CZ");
}

#[test]
fn an_error_forgets_the_answers_its_exchange_will_not_send() {
    let mut r = typed();
    front(&mut r, &[parse("s1", "SELECT 1"), sync()]);
    back(&mut r, b"1Z");
    front(&mut r, &[bind("s1"), bind("s1"), sync()]);
    // The injected Parse fails: an error, then ReadyForQuery; nothing else of that exchange.
    assert_eq!(back(&mut r, b"EZ"), b"EZ");
    front(&mut r, &[parse("", "SELECT 3"), sync()]);
    assert_eq!(
        back(&mut r, b"1Z"),
        b"1Z",
        "the next ParseComplete is tokio-postgres's"
    );
}

#[test]
fn a_closed_statement_is_forgotten_and_unknown_names_pass_unchanged() {
    let mut r = typed();
    front(&mut r, &[parse("s1", "SELECT 1"), sync()]);
    back(&mut r, b"1Z");
    let close = message(b'C', &[b"Ss1\0"]);
    assert_eq!(
        front(&mut r, &[close.clone(), sync()]),
        [close, sync()].concat()
    );
    assert_eq!(front(&mut r, &[bind("s1")]), bind("s1"));
    assert_eq!(front(&mut r, &[bind("s9")]), bind("s9"));
}

#[test]
fn partial_messages_wait_for_their_rest() {
    let mut r = typed();
    let whole = parse("s1", "SELECT 1");
    let (mut input, mut output) = (whole[..6].to_vec(), Vec::new());
    r.frontend(&mut input, &mut output);
    assert!(output.is_empty());
    input.extend_from_slice(&whole[6..]);
    r.frontend(&mut input, &mut output);
    assert_eq!(output, parse("", "SELECT 1"));
}

#[test]
fn after_an_accepted_tls_request_bytes_pass_untouched() {
    let mut r = Rewriter::default();
    let ssl_request = [&8u32.to_be_bytes()[..], &SSL_REQUEST.to_be_bytes()].concat();
    let mut out = Vec::new();
    r.frontend(&mut ssl_request.clone(), &mut out);
    let mut answer = b"S\x16\x03".to_vec();
    let mut read = Vec::new();
    r.backend(&mut answer, &mut read);
    assert_eq!(read, b"S\x16\x03");
    let hello = parse("s1", "x");
    let mut out = Vec::new();
    r.frontend(&mut hello.clone(), &mut out);
    assert_eq!(out, hello, "encrypted bytes are not parsed");
}

#[test]
fn a_refused_tls_request_leads_to_a_plain_startup() {
    let mut r = Rewriter::default();
    let ssl_request = [&8u32.to_be_bytes()[..], &SSL_REQUEST.to_be_bytes()].concat();
    r.frontend(&mut ssl_request.clone(), &mut Vec::new());
    let mut read = Vec::new();
    r.backend(&mut b"N".to_vec(), &mut read);
    assert_eq!(read, b"N");
    assert_eq!(front(&mut r, &[startup()]), startup());
    assert_eq!(front(&mut r, &[parse("s1", "x")]), parse("", "x"));
}
