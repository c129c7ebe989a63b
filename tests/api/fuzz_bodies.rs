//! A bounded fuzzer over every JSON body the API takes (hardening: no panic is reachable from
//! input). Arbitrary JSON, and objects built from the API's own field names with values of every
//! type and extreme size, go to each route through the real stack; none may answer 500 (a panic
//! or an internal error), and the process keeps serving. `FUZZ_CASES` (default 40 per route in
//! CI) runs it longer.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::{json, Map, Value};

use crate::helpers::{spawn_app_with, SignedIn, TestApp, ORIGIN};

const FIELDS: &[&str] = &[
    "email",
    "bootstrap_token",
    "ceremony_id",
    "credential",
    "token",
    "name",
    "symbol",
    "qty",
    "notional",
    "side",
    "type",
    "time_in_force",
    "limit_price",
    "stop_price",
    "extended_hours",
    "client_order_id",
    "engaged",
    "reason",
    "timeframe",
    "start",
    "end",
    "strategy",
    "params",
    "initial_cash",
    "commission",
    "slippage_bps",
    "position_size_pct",
    "fast",
    "slow",
    "period",
    "lower",
    "upper",
    "id",
    "rawId",
    "response",
    "clientDataJSON",
    "authenticatorData",
    "signature",
    "attestationObject",
];

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        Just(json!(79228162514264337593543950335u128 as f64)),
        prop_oneof![
            Just("79228162514264337593543950335".to_owned()),
            Just("-0.0000000001".to_owned()),
            Just("1e400".to_owned()),
            Just("AAPL".to_owned()),
            Just("sma_crossover".to_owned()),
            Just("2024-01-01T00:00:00Z".to_owned()),
            Just("00000000-0000-0000-0000-000000000000".to_owned()),
            ".{0,40}",
            "[a-zA-Z0-9_-]{0,300}",
        ]
        .prop_map(Value::from),
    ]
}

fn body() -> impl Strategy<Value = Value> {
    let value = scalar().prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(FIELDS), inner), 0..6).prop_map(|pairs| {
                Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>(),
                )
            }),
        ]
    });
    prop_oneof![
        value.clone(),
        prop::collection::vec((prop::sample::select(FIELDS), value), 1..8).prop_map(|pairs| {
            Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
        }),
    ]
}

async fn send(app: &TestApp, user: &SignedIn, method: Method, path: &str, body: &Value) -> u16 {
    app.client
        .request(method, app.url(path))
        .header("cookie", &user.cookie)
        .header("origin", ORIGIN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("answered (the connection was not dropped)")
        .status()
        .as_u16()
}

#[test]
fn no_json_body_makes_any_route_answer_500() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (app, user) = runtime.block_on(async {
        let app = spawn_app_with(&[
            ("ALPACA_AUTH_MODE", "simulated"),
            ("FLAG_WEBAUTHN_REGISTRATION", "true"),
            ("WEBAUTHN_RP_ID", "localhost"),
            ("WEBAUTHN_RP_NAME", "Raxx"),
            ("WEBAUTHN_ORIGIN", ORIGIN),
            ("ENABLE_GLOBAL_RATE_LIMIT", "false"),
        ])
        .await;
        let user = app.sign_in("fuzz@example.com", true).await;
        (app, user)
    });
    let cases: u32 = std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(40);
    let passkey = format!("/api/auth/passkeys/{}", uuid::Uuid::new_v4());
    let routes = [
        (Method::POST, "/api/auth/register/options"),
        (Method::POST, "/api/auth/register/verify"),
        (Method::POST, "/api/auth/email/verify"),
        (Method::POST, "/api/auth/email/resend"),
        (Method::POST, "/api/auth/login/options"),
        (Method::POST, "/api/auth/login/verify"),
        (Method::POST, "/api/auth/passkeys/options"),
        (Method::POST, "/api/auth/passkeys/verify"),
        (Method::PATCH, passkey.as_str()),
        (Method::POST, "/api/auth/recovery/start"),
        (Method::POST, "/api/auth/recovery/options"),
        (Method::POST, "/api/auth/recovery/verify"),
        (Method::POST, "/api/auth/reauth/options"),
        (Method::POST, "/api/auth/reauth/verify"),
        (Method::POST, "/api/trading/orders"),
        (Method::POST, "/api/trading/kill-switch"),
        (Method::POST, "/api/backtest"),
    ];
    for (method, path) in routes {
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&body(), |body| {
                let status = runtime.block_on(send(&app, &user, method.clone(), path, &body));
                prop_assert_ne!(status, 500, "{} {} with {}", method, path, body);
                Ok(())
            })
            .unwrap_or_else(|failure| panic!("{failure}"));
    }
    runtime.block_on(async {
        assert_eq!(app.get("/health").await.status(), 200, "still serving");
    });
}
