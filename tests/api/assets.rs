//! Alpaca's assets: the worker's daily copy (once across workers), `GET /api/assets` and
//! `GET /api/assets/{symbol}` (a symbol not in the copy asked of Alpaca once a day), and the
//! order checks that use them before any order reaches Alpaca.

use std::time::Duration;

use raptor_actors::outbound::{BudgetPolicy, OutboundBudget};
use reqwest::Method;
use serde_json::{json, Value};

use crate::alpaca_stub::{AlpacaStub, Behaviour};
use crate::helpers::{error_code, test_settings};
use crate::trading::{get, submit, trading_app};

fn budget() -> OutboundBudget {
    OutboundBudget::new(BudgetPolicy {
        limit: 100,
        reserved_for_trading: 10,
        window: Duration::from_secs(60),
        max_wait: Duration::from_secs(3),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_copy_is_made_once_across_workers_and_searched() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let config =
        raptor::startup::wiring::broker_config(&test_settings(&app.db.url, &stub.overrides()));
    let pool = app.app().pool();
    let now = chrono::Utc::now();
    let budget = budget();
    let refresh = || raptor::trading::assets::refresh::refresh_if_due(pool, &config, &budget, now);
    // A failed refresh gives its claim back: the next check tries again.
    stub.behave(Behaviour::Fail(
        500,
        r#"{"code":50010000,"message":"boom"}"#.into(),
    ));
    assert!(refresh().await.is_err());
    let claims = "SELECT count(*) FROM job_runs WHERE job = 'asset_refresh'";
    assert_eq!(app.db.count(claims).await, 0);
    stub.behave(Behaviour::Normal);
    let (first, second) = tokio::join!(refresh(), refresh());
    let done: Vec<_> = [first.unwrap(), second.unwrap()]
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(done, [10], "one worker copied 8 equities and 2 pairs");
    assert_eq!(
        stub.count(Method::GET, "/v2/assets"),
        3,
        "the failed request, then one list per class"
    );
    assert_eq!(refresh().await.unwrap(), None, "the day's copy exists");

    let found: Value = get(&app, &user, "/api/assets?search=btc")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0]["symbol"], "BTC/USD");
    assert_eq!(found[0]["class"], "crypto");
    assert_eq!(found[0]["fractionable"], true);
    let crypto: Value = get(&app, &user, "/api/assets?asset_class=crypto&status=active")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(crypto.as_array().unwrap().len(), 2, "{crypto}");
    let by_name: Value = get(&app, &user, "/api/assets?search=tsla%20inc")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(by_name[0]["symbol"], "TSLA", "{by_name}");
    let limited: Value = get(&app, &user, "/api/assets?limit=3")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(limited.as_array().unwrap().len(), 3);
    for bad in ["asset_class=stocks", "status=all", "limit=0", "limit=1001"] {
        let response = get(&app, &user, &format!("/api/assets?{bad}")).await;
        assert_eq!(response.status(), 422, "{bad}");
        assert_eq!(error_code(response).await, "invalid_query");
    }
    let anonymous = app.client.get(app.url("/api/assets")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symbol_not_in_the_copy_is_asked_of_alpaca_once_a_day() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let path = "/v2/assets/IBM";
    for _ in 0..2 {
        let response = get(&app, &user, "/api/assets/ibm").await;
        assert_eq!(response.status(), 200);
        let asset: Value = response.json().await.unwrap();
        assert_eq!(
            (asset["symbol"].as_str(), asset["class"].as_str()),
            (Some("IBM"), Some("us_equity"))
        );
    }
    assert_eq!(stub.count(Method::GET, path), 1, "kept a day");
    // The pair spelled without its slash is the crypto asset.
    let pair: Value = get(&app, &user, "/api/assets/BTCUSD")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(pair["symbol"], "BTC/USD");
    // An unknown symbol is 404, and that answer is kept too.
    for _ in 0..2 {
        let response = get(&app, &user, "/api/assets/NOPEX").await;
        assert_eq!(response.status(), 404);
        assert_eq!(error_code(response).await, "not_found");
    }
    assert_eq!(stub.count(Method::GET, "/v2/assets/NOPEX"), 1);
    // The copy itself never calls Alpaca.
    assert_eq!(get(&app, &user, "/api/assets/AAPL").await.status(), 200);
    assert_eq!(stub.count(Method::GET, "/v2/assets/AAPL"), 0);

    app.clock.advance(chrono::Duration::hours(25));
    // A day later (with a session of that day) it is asked again.
    let user = app.session_for(user.user_id, &user.email).await;
    assert_eq!(get(&app, &user, "/api/assets/IBM").await.status(), 200);
    assert_eq!(
        stub.count(Method::GET, path),
        2,
        "a day later it is asked again"
    );
}

fn order(symbol: &str, extra: Value) -> Value {
    let mut order = json!({"symbol": symbol, "qty": "1", "side": "buy", "type": "market",
        "time_in_force": "day"});
    order
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    order
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_are_checked_against_their_asset_before_any_order_call() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    // BTCUSD has no slash, but it is crypto, which TRADING_ASSET_CLASSES=us_equity refuses.
    let crypto = submit(
        &app,
        &user,
        &order("BTCUSD", json!({"time_in_force": "gtc"})),
    )
    .await;
    assert_eq!(crypto.status(), 422);
    let body: Value = crypto.json().await.unwrap();
    assert_eq!(body["error"]["code"], "risk_limit");
    assert_eq!(body["error"]["fields"]["limit"], "asset_class");
    for symbol in ["NOPEZ", "DELISTED"] {
        let refused = submit(&app, &user, &order(symbol, json!({}))).await;
        assert_eq!(refused.status(), 422, "{symbol}");
        assert_eq!(error_code(refused).await, "asset_not_tradable", "{symbol}");
    }
    for (symbol, extra, field) in [
        ("WHOLE", json!({"qty": "0.5"}), "qty"),
        ("WHOLE", json!({"qty": null, "notional": "10"}), "notional"),
        (
            "AAPL",
            json!({"qty": null, "notional": "10", "type": "limit", "limit_price": "1"}),
            "notional",
        ),
        (
            "AAPL",
            json!({"qty": null, "notional": "10", "time_in_force": "gtc"}),
            "notional",
        ),
        ("AAPL", json!({"extended_hours": true}), "extended_hours"),
    ] {
        let refused = submit(&app, &user, &order(symbol, extra.clone())).await;
        assert_eq!(refused.status(), 422, "{extra}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["error"]["code"], "invalid_order", "{extra}");
        assert!(body["error"]["fields"][field].is_string(), "{body}");
    }
    assert_eq!(
        stub.orders_received(),
        0,
        "nothing reached Alpaca's order routes"
    );
    // A fractional quantity of a fractionable asset, and whole shares of any, are fine.
    let fraction = submit(&app, &user, &order("AAPL", json!({"qty": "0.5"}))).await;
    assert_eq!(fraction.status(), 201);
    let whole = submit(&app, &user, &order("WHOLE", json!({"qty": "2"}))).await;
    assert_eq!(whole.status(), 201);
}
