//! Paper books end to end: each trader's own account, positions, orders and history on the one
//! shared paper account, fed by fills from the broker stand-in (REST and `trade_updates`),
//! reconciled after the stream was down, and never another user's.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::alpaca_data_stub::AlpacaDataStub;
use crate::helpers::{error_code, eventually, spawn_app_with, SignedIn, TestApp};
use crate::paper_broker::PaperBroker;
use crate::trading::{get, submit};

const WAIT: Duration = Duration::from_secs(10);

/// The application trading through `broker`, priced by a market-data stand-in where AAPL last
/// traded at 150.
pub async fn book_app(broker: &PaperBroker, extra: &[(&str, &str)]) -> TestApp {
    let data = AlpacaDataStub::start().await;
    data.set_trade_price("AAPL", 150.0);
    broker.set_price("AAPL", "150");
    let mut overrides = broker.overrides();
    overrides.push(("ALPACA_DATA_BASE_URL", data.url.as_str()));
    // The tests poll the books until a fill shows: more than the per-client default a minute.
    overrides.push(("RATE_LIMIT_PER_MINUTE", "100000"));
    overrides.extend_from_slice(extra);
    let mut app = spawn_app_with(&overrides).await;
    app.peers.push(Box::new(data));
    app
}

fn order(side: &str, qty: &str, kind: &str, limit: Option<&str>) -> Value {
    let mut order = json!({"symbol": "AAPL", "qty": qty, "side": side, "type": kind,
                           "time_in_force": "gtc"});
    if let Some(limit) = limit {
        order["limit_price"] = json!(limit);
    }
    order
}

async fn json_of(app: &TestApp, user: &SignedIn, path: &str) -> Value {
    let response = get(app, user, path).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// Waits until `user`'s account field `field` reads `value`.
async fn account_shows(app: &TestApp, user: &SignedIn, field: &str, value: &str) -> Value {
    eventually(WAIT, &format!("{field} = {value}"), || async {
        let account = json_of(app, user, "/api/trading/account").await;
        (account[field] == value).then_some(account)
    })
    .await
}

async fn placed(app: &TestApp, user: &SignedIn, order: &Value) -> String {
    let response = submit(app, user, order).await;
    assert_eq!(response.status(), 201, "{order}");
    let body: Value = response.json().await.unwrap();
    body["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_trader_has_a_book_of_their_own_fed_by_their_fills() {
    let broker = PaperBroker::start().await;
    let app = book_app(&broker, &[]).await;
    let alice = app.sign_in("alice@example.com", false).await;
    let bob = app.sign_in("bob@example.com", false).await;

    placed(&app, &alice, &order("buy", "10", "market", None)).await;
    let account = account_shows(&app, &alice, "cash", "98500.00").await;
    assert_eq!(account["equity"], "100000.00");
    assert_eq!(account["long_market_value"], "1500.00");
    let positions = json_of(&app, &alice, "/api/trading/positions").await;
    assert_eq!(positions.as_array().unwrap().len(), 1, "{positions}");
    let aapl = &positions[0];
    assert_eq!(
        (
            &aapl["qty"],
            &aapl["avg_entry_price"],
            &aapl["cost_basis"],
            &aapl["side"]
        ),
        (
            &json!("10"),
            &json!("150"),
            &json!("1500.00"),
            &json!("long")
        )
    );
    let one = json_of(&app, &alice, "/api/trading/positions/aapl").await;
    assert_eq!(one["qty"], "10");

    // Bob sees his own untouched book and cannot sell what Alice bought.
    let bobs = json_of(&app, &bob, "/api/trading/account").await;
    assert_eq!(bobs["cash"], "100000.00");
    assert_eq!(
        json_of(&app, &bob, "/api/trading/positions").await,
        json!([])
    );
    let refused = submit(&app, &bob, &order("sell", "1", "market", None)).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(error_code(refused).await, "insufficient_position");

    // Alice sells part at a profit: realized P&L at the average cost.
    broker.set_price("AAPL", "160");
    placed(&app, &alice, &order("sell", "4", "market", None)).await;
    let account = account_shows(&app, &alice, "cash", "99140.00").await;
    assert_eq!(account["realized_pl"], "40.00");
    // No short selling: more than the rest is refused.
    let too_many = submit(&app, &alice, &order("sell", "7", "market", None)).await;
    assert_eq!(error_code(too_many).await, "insufficient_position");
    let opened = app
        .db
        .count("SELECT count(*) FROM audit_log WHERE event = 'book.open'")
        .await;
    assert_eq!(opened, 2, "each book's opening is audited once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_orders_reserve_buying_power_and_position_until_they_close() {
    let broker = PaperBroker::start().await;
    let app = book_app(&broker, &[("PAPER_BOOK_INITIAL_CASH", "20000")]).await;
    let user = app.sign_in("trader@example.com", false).await;

    // A limit buy below the market is priced at the market (150): 100 × 150 reserved.
    let id = placed(&app, &user, &order("buy", "100", "limit", Some("140"))).await;
    let account = json_of(&app, &user, "/api/trading/account").await;
    assert_eq!(account["buying_power"], "5000.00");
    assert_eq!(account["cash"], "20000.00");
    let refused = submit(&app, &user, &order("buy", "40", "limit", Some("140"))).await;
    assert_eq!(refused.status(), 422);
    assert_eq!(error_code(refused).await, "insufficient_buying_power");

    // A partial fill spends cash and keeps the rest reserved.
    broker.fill(&id, "40", "140");
    let account = account_shows(&app, &user, "cash", "14400.00").await;
    assert_eq!(account["buying_power"], "5400.00");

    // Open sells hold their shares back.
    let sell = placed(&app, &user, &order("sell", "30", "limit", Some("200"))).await;
    let aapl = json_of(&app, &user, "/api/trading/positions/AAPL").await;
    assert_eq!(
        (&aapl["qty"], &aapl["qty_available"]),
        (&json!("40"), &json!("10"))
    );
    let over = submit(&app, &user, &order("sell", "11", "limit", Some("200"))).await;
    assert_eq!(error_code(over).await, "insufficient_position");

    // A cancel releases what is left; a penny sell limit is priced at the market.
    let canceled = app
        .authed(Method::DELETE, &format!("/api/trading/orders/{id}"), &user)
        .send()
        .await
        .unwrap();
    assert_eq!(canceled.status(), 204);
    account_shows(&app, &user, "buying_power", "14400.00").await;
    broker.expire(&sell);
    eventually(WAIT, "the expired sell releases its shares", || async {
        let aapl = json_of(&app, &user, "/api/trading/positions/AAPL").await;
        (aapl["qty_available"] == "40").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stated_price_cannot_shrink_an_order_below_the_market() {
    let broker = PaperBroker::start().await;
    let app = book_app(&broker, &[("TRADING_MAX_ORDER_NOTIONAL", "1000")]).await;
    let user = app.sign_in("trader@example.com", false).await;
    placed(&app, &user, &order("buy", "6", "market", None)).await;
    account_shows(&app, &user, "cash", "99100.00").await;
    // 6 shares at a penny are still 6 × 150 = 900: within the limit, and within the position.
    placed(&app, &user, &order("sell", "6", "limit", Some("0.01"))).await;
    // 2,000 at a penny would be 300,000 at the market.
    let big = submit(&app, &user, &order("sell", "2000", "limit", Some("0.01"))).await;
    assert_eq!(big.status(), 422);
    let body: Value = big.json().await.unwrap();
    assert_eq!(body["error"]["fields"]["limit"], "max_order_notional");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_while_the_stream_was_down_reaches_the_book_after_the_reconnect() {
    let broker = PaperBroker::start().await;
    let app = book_app(&broker, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let id = placed(&app, &user, &order("buy", "10", "limit", Some("151"))).await;
    broker.wait_listening(1, WAIT).await;

    broker.refuse_stream(true);
    broker.drop_stream();
    broker.wait_listening(0, WAIT).await;
    broker.fill(&id, "10", "149");
    broker.refuse_stream(false);
    broker.wait_listening(1, WAIT).await;
    let started = std::time::Instant::now();
    account_shows(&app, &user, "cash", "98510.00").await;
    assert!(started.elapsed() < Duration::from_secs(10));
    let listed = json_of(&app, &user, &format!("/api/trading/orders/{id}")).await;
    assert_eq!(listed["status"], "filled");
    assert_eq!(listed["filled_qty"], "10");
    let fills = app
        .db
        .count("SELECT count(*) FROM fills WHERE source = 'reconcile'")
        .await;
    assert_eq!(fills, 1, "recorded once, by the reconciliation");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_traders_orders_stay_listed_and_page_with_a_cursor() {
    let broker = PaperBroker::start().await;
    let app = book_app(
        &broker,
        &[
            ("TRADING_MAX_OPEN_ORDERS", "100"),
            ("TRADING_USER_CALLS_PER_MINUTE", "1000"),
        ],
    )
    .await;
    let alice = app.sign_in("alice@example.com", false).await;
    let bob = app.sign_in("bob@example.com", false).await;
    let first = placed(&app, &alice, &order("buy", "1", "limit", Some("100"))).await;
    let mut bobs = Vec::new();
    for _ in 0..60 {
        bobs.push(placed(&app, &bob, &order("buy", "1", "limit", Some("100"))).await);
    }
    let alices = json_of(&app, &alice, "/api/trading/orders?status=all").await;
    assert_eq!(alices.as_array().unwrap().len(), 1);
    assert_eq!(alices[0]["id"], first.as_str());

    let mut seen = Vec::new();
    let mut path = "/api/trading/orders?limit=25&direction=asc".to_owned();
    loop {
        let response = get(&app, &bob, &path).await;
        assert_eq!(response.status(), 200);
        let next = response
            .headers()
            .get("x-next-cursor")
            .map(|c| c.to_str().unwrap().to_owned());
        let page: Vec<Value> = response.json().await.unwrap();
        seen.extend(page.iter().map(|o| o["id"].as_str().unwrap().to_owned()));
        match next {
            Some(cursor) => {
                path = format!("/api/trading/orders?limit=25&direction=asc&cursor={cursor}")
            }
            None => break,
        }
    }
    assert_eq!(seen, bobs, "every order once, oldest first");
    for bad in [
        "after=yesterday",
        "direction=up",
        "symbols=A%20B",
        "cursor=nope",
        "limit=501",
    ] {
        let response = get(&app, &bob, &format!("/api/trading/orders?{bad}")).await;
        assert_eq!(response.status(), 422, "{bad}");
        assert_eq!(error_code(response).await, "invalid_query");
    }
    // Reads never ask Alpaca: the only order listings it saw are reconciliations (`after=`).
    let listings: Vec<_> = broker
        .seen()
        .into_iter()
        .filter(|s| s.method == Method::GET && s.path == "/v2/orders")
        .collect();
    assert!(
        listings.iter().all(|s| s.query.contains("after=")),
        "{listings:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portfolio_history_is_alpacas_shape_with_a_live_point() {
    let broker = PaperBroker::start().await;
    let app = book_app(&broker, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    let history = json_of(
        &app,
        &user,
        "/api/trading/portfolio/history?period=1W&timeframe=1D",
    )
    .await;
    assert_eq!(history["base_value"], "100000.00");
    assert_eq!(history["timeframe"], "1D");
    for series in ["timestamp", "equity", "profit_loss", "profit_loss_pct"] {
        assert_eq!(history[series].as_array().unwrap().len(), 1, "{series}");
    }
    assert_eq!(history["equity"][0], "100000.00");
    for bad in ["period=1D", "timeframe=1H", "period=1W&period=1M"] {
        let response = get(
            &app,
            &user,
            &format!("/api/trading/portfolio/history?{bad}"),
        )
        .await;
        assert_eq!(response.status(), 422, "{bad}");
    }
}
