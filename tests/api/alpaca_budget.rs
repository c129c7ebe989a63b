//! One Alpaca budget for the account, whatever the number of processes (issue 25): three
//! `raptor serve` processes on one database and a stand-in that counts what reaches it. A burst
//! of uncached market data and of orders and cancels, on all three at once, never sends more
//! than `ALPACA_ACCOUNT_RATE_LIMIT_PER_MINUTE` (the burst lasts seconds: one window), market
//! data never more than its share, and every order and cancel gets through.

use reqwest::Method;
use serde_json::{json, Value};

use crate::alpaca_data_stub::AlpacaDataStub;
use crate::alpaca_stub::AlpacaStub;
use crate::helpers::{error_code, pooled_url, spawn_app, SignedIn, ORIGIN, TEST_SECRET_KEY};
use crate::serve_process::ServeProcess;

const LIMIT: usize = 18;
const RESERVED: usize = 12;

fn env(database_url: &str, trading: &AlpacaStub, data: &AlpacaDataStub) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("APP_ENV", "test"),
        ("DATABASE_URL", database_url),
        ("DATABASE_SSL", "disable"),
        ("SECRET_KEY", TEST_SECRET_KEY),
        ("FRONTEND_ORIGIN", ORIGIN),
        ("ALPACA_ACCOUNT_RATE_LIMIT_PER_MINUTE", "18"),
        ("ALPACA_TRADING_RESERVED_PER_MINUTE", "12"),
    ]
    .into_iter()
    .chain(trading.overrides())
    .chain(data.overrides())
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    if let Some(pooled) = pooled_url(database_url) {
        env.push(("DATABASE_CONNECTION_POOL_URL".into(), pooled));
    }
    env
}

fn request(base: &str, method: Method, path: &str, user: &SignedIn) -> reqwest::RequestBuilder {
    let request = reqwest::Client::new()
        .request(method.clone(), format!("{base}{path}"))
        .header("cookie", &user.cookie);
    if method == Method::GET {
        request
    } else {
        request
            .header("origin", ORIGIN)
            .header("content-type", "application/json")
    }
}

/// An order and its cancel on `base`; both must succeed.
async fn order_and_cancel(base: String, user: &SignedIn) {
    let order = json!({"symbol": "AAPL", "qty": "1", "side": "buy", "type": "limit",
                       "time_in_force": "day", "limit_price": "1.00"});
    let placed = request(&base, Method::POST, "/api/trading/orders", user)
        .body(order.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        placed.status(),
        201,
        "orders are not starved by market data"
    );
    let placed: Value = placed.json().await.unwrap();
    let id = placed["id"].as_str().unwrap();
    let cancelled = request(
        &base,
        Method::DELETE,
        &format!("/api/trading/orders/{id}"),
        user,
    )
    .send()
    .await
    .unwrap();
    assert!(cancelled.status().is_success(), "{}", cancelled.status());
}

/// Uncached quotes (one symbol each, so every one is a miss): how many were refused.
async fn quotes(base: String, user: &SignedIn, symbols: &[&str]) -> usize {
    let mut refused = 0;
    for symbol in symbols {
        let path = format!("/api/market-data/quotes/latest?symbols={symbol}");
        let response = request(&base, Method::GET, &path, user)
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => {}
            503 => {
                assert_eq!(error_code(response).await, "market_data_rate_limited");
                refused += 1;
            }
            other => panic!("{other} for {symbol}"),
        }
    }
    refused
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_share_one_alpaca_budget_and_orders_keep_their_reserve() {
    let trading = AlpacaStub::start().await;
    let data = AlpacaDataStub::start().await;
    // The in-process app migrates the database and signs users in; it sends nothing to Alpaca.
    let home = spawn_app().await;
    let users = [
        home.sign_in("one@example.com", false).await,
        home.sign_in("two@example.com", false).await,
        home.sign_in("three@example.com", false).await,
    ];
    let env = env(&home.db.url, &trading, &data);
    let mut processes = Vec::new();
    for _ in 0..3 {
        processes.push(ServeProcess::start(&env).await);
    }
    let symbols = ["AAPL", "MSFT", "GOOG", "AMZN", "TSLA", "NVDA"];
    let mut data_bursts = Vec::new();
    let mut trades = Vec::new();
    for (process, user) in processes.iter().zip(&users) {
        let (base, user_for_data) = (process.base.clone(), user.clone());
        data_bursts.push(tokio::spawn(async move {
            quotes(base, &user_for_data, &symbols).await
        }));
        let (base, user) = (process.base.clone(), user.clone());
        trades.push(tokio::spawn(
            async move { order_and_cancel(base, &user).await },
        ));
    }
    let mut refused = 0;
    for burst in data_bursts {
        refused += burst.await.unwrap();
    }
    for trade in trades {
        trade.await.unwrap();
    }

    // Each order is priced from its latest trade first, on the trading lane.
    let to_data = data.count("/v2/stocks/quotes/latest");
    let pricing = data.count("/v2/stocks/trades/latest");
    let to_trading = trading
        .seen()
        .iter()
        .filter(|seen| seen.path.starts_with("/v2/"))
        .count();
    assert!(
        to_data + pricing + to_trading <= LIMIT,
        "{to_data} data, {pricing} pricing and {to_trading} trading requests reached Alpaca, \
         limit {LIMIT}"
    );
    assert!(to_data <= LIMIT - RESERVED, "market data took {to_data}");
    assert!(
        to_trading >= 6,
        "three orders and three cancels: {to_trading}"
    );
    assert_eq!(refused + to_data, 18, "every quote was sent or refused");
    assert!(refused > 0, "the burst exceeded the data share");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_of_two_processes_stop_at_each_lanes_limit() {
    use std::time::Duration;

    use raptor_actors::outbound::{AccountBudget, AccountPolicy, Lane, Take};

    let db = crate::helpers::TestDb::create().await;
    let direct =
        raptor::db::build_pool(&db.url, raptor::settings::DatabaseSsl::Disable, 2).unwrap();
    raptor::db::migrate(&direct).await.unwrap();
    let policy = AccountPolicy {
        limit: 6,
        reserved_for_trading: 2,
        window: Duration::from_secs(60),
        lease_ttl: Duration::from_secs(30),
        block: [2, 3],
    };
    let a = AccountBudget::new(direct.clone(), policy);
    let b = AccountBudget::new(direct.clone(), policy);
    let granted = |budget: &AccountBudget, lane| {
        let budget = budget.clone();
        async move {
            let mut n = 0;
            while budget.take(lane).await.unwrap() == Take::Granted {
                n += 1;
                assert!(n <= 10, "runaway");
            }
            n
        }
    };
    // Market data: 6 - 2 = 4 across both processes. a leases a block of 3 and spends one; b
    // gets the one left; a spends the rest of its block and gets nothing more.
    assert_eq!(a.take(Lane::MarketData).await.unwrap(), Take::Granted);
    assert_eq!(granted(&b, Lane::MarketData).await, 1);
    assert_eq!(granted(&a, Lane::MarketData).await, 2);
    // The reserve is still there for trading, and no more.
    assert_eq!(granted(&b, Lane::Trading).await, 2);
    assert_eq!(granted(&a, Lane::Trading).await, 0);
    let leased: i64 = db
        .count("SELECT coalesce(sum(granted), 0)::bigint FROM outbound_leases")
        .await;
    assert_eq!(leased, 6);
    // A full account says how long until room: about the oldest lease's horizon.
    match b.take(Lane::Trading).await.unwrap() {
        Take::Wait(wait) => assert!(wait > Duration::from_secs(60), "{wait:?}"),
        other => panic!("{other:?}"),
    }
}
