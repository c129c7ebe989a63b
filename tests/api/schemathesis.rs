//! Schemathesis (PyPI) fuzzes every operation of the served OpenAPI document against a running
//! Raptor: a signed-in session, the simulated broker, the Alpaca data stand-in on loopback.
//! Checks: no 5xx, every response matches its schema, only documented status codes and
//! content types. What it finds is fixed in the handlers or the document; the operations it
//! does not run are listed in docs/api.md with the reason.
//!
//! `scripts/test.sh` installs schemathesis next to aiosmtpd (`RAPTOR_TEST_PYTHON`'s virtualenv).
//! Without it the test says so and passes, except under CI (`CI` set), where it fails.
//! `SCHEMATHESIS_MAX_EXAMPLES` (default 100 per operation) and `SCHEMATHESIS_SEED` (default a
//! fixed seed, so a run is reproducible) allow a longer or a different run.

use std::path::PathBuf;
use std::process::Stdio;

use crate::alpaca_data_stub::AlpacaDataStub;
use crate::helpers::{spawn_app_with, ORIGIN};

const DEFAULT_EXAMPLES: &str = "100";
const DEFAULT_SEED: &str = "20261125";

/// The custom check `stream_event_data_conformance`.
const HOOKS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/api/schemathesis_hooks.py"
);

/// Operations fuzzed in a run of their own: the order stream is endless, so each request reads
/// its events (checked one by one against the document's `StreamEvent`) until a short timeout;
/// a few cases suffice.
const STREAMS: [&str; 1] = ["order_stream"];

/// Operations that end the session: fuzzed after everything else has run.
const ENDS_THE_SESSION: [&str; 2] = ["logout", "erase_account"];

/// Operator-only operations: fuzzed once more with an operator's session (a customer's gets
/// 403 only). Last, because the kill switch they may engage turns trading routes into 503s.
const OPERATOR_ONLY: [&str; 3] = ["system_diagnostic", "kill_switch", "change_kill_switch"];

/// The schemathesis executable: beside `RAPTOR_TEST_PYTHON`, or on `PATH`.
fn schemathesis() -> Option<PathBuf> {
    let beside_python = std::env::var_os("RAPTOR_TEST_PYTHON")
        .map(PathBuf::from)
        .and_then(|python| python.parent().map(|bin| bin.join("schemathesis")));
    let candidates =
        beside_python
            .into_iter()
            .chain(std::env::var_os("PATH").into_iter().flat_map(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join("schemathesis"))
                    .collect::<Vec<_>>()
            }));
    candidates.into_iter().find(|path| path.is_file())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_in_any_operation() {
    let Some(schemathesis) = schemathesis() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "schemathesis is not installed, and CI must run it (scripts/test.sh installs it)"
        );
        eprintln!(
            "SKIPPED: schemathesis is not installed (scripts/test.sh installs it into the \
             test virtualenv; or `pip install schemathesis` and put it on PATH)"
        );
        return;
    };
    let data = AlpacaDataStub::start().await;
    let mut overrides = data.overrides();
    overrides.extend_from_slice(&[
        ("ALPACA_AUTH_MODE", "simulated"),
        ("FLAG_WEBAUTHN_REGISTRATION", "true"),
        ("ENABLE_GLOBAL_RATE_LIMIT", "false"),
    ]);
    let app = spawn_app_with(&overrides).await;
    let user = app.sign_in("fuzz@example.com", false).await;

    let mut excluded: Vec<&str> = STREAMS.to_vec();
    excluded.extend(ENDS_THE_SESSION);
    let everything = Budget::operations();
    run(
        &schemathesis,
        &app.base,
        &user.cookie,
        &excluded,
        &[],
        &everything,
    )
    .await;
    // The stream answers `reset` for the example's unknown id, then the events of the orders
    // placed and cancelled meanwhile: each one checked against the document.
    let traffic = order_traffic(app.base.clone(), user.cookie.clone());
    let streams = Budget::streams();
    run(
        &schemathesis,
        &app.base,
        &user.cookie,
        &[],
        &STREAMS,
        &streams,
    )
    .await;
    traffic.abort();
    run(
        &schemathesis,
        &app.base,
        &user.cookie,
        &[],
        &ENDS_THE_SESSION,
        &everything,
    )
    .await;
    let operator = app.sign_in("operator@example.com", true).await;
    run(
        &schemathesis,
        &app.base,
        &operator.cookie,
        &[],
        &OPERATOR_ONLY,
        &everything,
    )
    .await;
}

/// Places and cancels a limit order every 600 ms (under the 120-a-minute order limit) until
/// aborted, so that a stream being read has order events (`new`, `canceled`) to show.
fn order_traffic(base: String, cookie: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        let order = serde_json::json!({
            "symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit",
            "time_in_force": "day", "limit_price": "1.00"
        });
        let mut pace = tokio::time::interval(std::time::Duration::from_millis(600));
        loop {
            pace.tick().await;
            let placed = client
                .post(format!("{base}/api/trading/orders"))
                .header("cookie", &cookie)
                .header("origin", ORIGIN)
                .json(&order)
                .send()
                .await;
            let Ok(placed) = placed else { continue };
            let Ok(body) = placed.json::<serde_json::Value>().await else {
                continue;
            };
            if let Some(id) = body["id"].as_str() {
                let _ = client
                    .delete(format!("{base}/api/trading/orders/{id}"))
                    .header("cookie", &cookie)
                    .header("origin", ORIGIN)
                    .send()
                    .await;
            }
        }
    })
}

/// How much one run tries: cases per operation, phases, and the per-request timeout.
struct Budget {
    examples: String,
    phases: &'static str,
    timeout: &'static str,
}

impl Budget {
    /// `SCHEMATHESIS_MAX_EXAMPLES` (default 100) cases per operation, every phase.
    fn operations() -> Self {
        Self {
            examples: std::env::var("SCHEMATHESIS_MAX_EXAMPLES")
                .unwrap_or_else(|_| DEFAULT_EXAMPLES.into()),
            phases: "examples,coverage,fuzzing",
            timeout: "10",
        }
    }

    /// An endless stream: a few cases, each read for two seconds (or 20 events).
    fn streams() -> Self {
        Self {
            examples: "3".into(),
            phases: "examples,fuzzing",
            timeout: "2",
        }
    }
}

/// One `schemathesis run` over the operations `include`d (all when empty) but the `exclude`d
/// ones; fails the test with schemathesis's report when it finds anything.
async fn run(
    schemathesis: &PathBuf,
    base: &str,
    cookie: &str,
    exclude: &[&str],
    include: &[&str],
    budget: &Budget,
) {
    let seed = std::env::var("SCHEMATHESIS_SEED").unwrap_or_else(|_| DEFAULT_SEED.into());
    let mut command = tokio::process::Command::new(schemathesis);
    command
        .arg("run")
        .arg(format!("{base}/api/openapi.json"))
        .args(["--url", base])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,response_schema_conformance,\
             content_type_conformance,response_headers_conformance,\
             stream_event_data_conformance",
        ])
        // The stream's `data` against each event's `contentSchema` (schemathesis_hooks.py).
        .env("SCHEMATHESIS_HOOKS", HOOKS)
        .args(["--phases", budget.phases])
        .args(["--max-examples", &budget.examples, "--seed", &seed])
        // One worker: with two threads, hypothesis parses lambda sources concurrently and
        // CPython 3.11's `ast` module can fail with "AST constructor recursion depth mismatch"
        // (a runtime error of the tool, not a finding).
        .args(["--workers", "1", "--request-timeout", budget.timeout])
        .args(["--header", &format!("Cookie: {cookie}")])
        .args(["--header", &format!("Origin: {ORIGIN}")])
        // The cookie above is the session; no made-up one instead.
        .args(["--generation-with-security-parameters", "false"])
        .args(["--generation-database", "none"])
        .args(["--suppress-health-check", "all", "--no-color"])
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for id in exclude {
        command.args(["--exclude-operation-id", id]);
    }
    for id in include {
        command.args(["--include-operation-id", id]);
    }
    let output = command.output().await.expect("schemathesis runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    eprintln!("{report}");
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{report}"
    );
    assert!(
        report.contains("passed"),
        "schemathesis ran no operation:\n{report}"
    );
}
