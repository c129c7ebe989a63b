//! Paper books for operators and data subjects: `raptor book show|adjust|reconcile`, the
//! export's book, and an erasure that cancels open orders before anything else.

use reqwest::Method;
use serde_json::{json, Value};

use crate::alpaca_stub::{KEY_ID, SECRET};
use crate::books::book_app;
use crate::helpers::{eventually, TestApp, TEST_SECRET_KEY};
use crate::paper_broker::PaperBroker;
use crate::trading::{get, submit};

const WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `raptor args…` against `app`'s database and `broker`: (success, stdout, stderr).
async fn book_cli(app: &TestApp, broker: &PaperBroker, args: &[&str]) -> (bool, String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_raptor"))
        .args(args)
        .env("APP_ENV", "test")
        .env("DATABASE_URL", &app.db.url)
        .env("DATABASE_SSL", "disable")
        .env("SECRET_KEY", TEST_SECRET_KEY)
        .env("ALPACA_AUTH_MODE", "trading")
        .env("ALPACA_PAPER_API_KEY", KEY_ID)
        .env("ALPACA_PAPER_API_SECRET", SECRET)
        .env("ALPACA_PAPER_BASE_URL", &broker.url)
        .output()
        .await
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

async fn buy(
    app: &TestApp,
    user: &crate::helpers::SignedIn,
    qty: &str,
    limit: Option<&str>,
) -> String {
    let mut order = json!({"symbol": "AAPL", "qty": qty, "side": "buy", "type": "market",
                           "time_in_force": "day"});
    if let Some(limit) = limit {
        order["type"] = json!("limit");
        order["limit_price"] = json!(limit);
    }
    let response = submit(app, user, &order).await;
    assert_eq!(response.status(), 201);
    response.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn aapl_held(app: &TestApp, user: &crate::helpers::SignedIn, qty: &str) {
    eventually(WAIT, &format!("{qty} AAPL in the book"), || async {
        let positions: Value = get(app, user, "/api/trading/positions")
            .await
            .json()
            .await
            .unwrap();
        (positions[0]["qty"] == qty).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_show_adjust_and_reconcile_the_books() {
    let broker = PaperBroker::start().await;
    let app = book_app(&broker, &[]).await;
    let alice = app.sign_in("alice@example.com", false).await;
    buy(&app, &alice, "10", None).await;
    aapl_held(&app, &alice, "10").await;

    let (ok, out, err) = book_cli(&app, &broker, &["book", "reconcile"]).await;
    assert!(ok, "{out}{err}");
    assert!(err.contains("no drift"), "{err}");

    let (ok, _, err) = book_cli(
        &app,
        &broker,
        &[
            "book",
            "adjust",
            "--email",
            "alice@example.com",
            "--cash",
            "-500",
            "--reason",
            "TICKET-7",
        ],
    )
    .await;
    assert!(ok, "{err}");
    let account: Value = get(&app, &alice, "/api/trading/account")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(account["cash"], "98000.00");
    let adjusted = app
        .db
        .count("SELECT count(*) FROM audit_log WHERE event = 'book.adjust' AND details::jsonb->>'reason' = 'TICKET-7'")
        .await;
    assert_eq!(adjusted, 1);
    for bad in [
        &["--cash", "lots", "--reason", "x"][..],
        &["--cash", "0", "--reason", "x"],
        &["--cash", "5", "--reason", " "],
    ] {
        let mut args = vec!["book", "adjust", "--email", "alice@example.com"];
        args.extend_from_slice(bad);
        let (ok, _, _) = book_cli(&app, &broker, &args).await;
        assert!(!ok, "{bad:?}");
    }
    let (ok, out, _) = book_cli(
        &app,
        &broker,
        &["book", "show", "--email", "alice@example.com"],
    )
    .await;
    assert!(ok);
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["cash"], "98000");
    assert_eq!(shown["positions"][0]["qty"], "10");

    // A trade made outside Raptor lands in the operator book (while an open order keeps the
    // stream listening), so the books still add up; a position changed behind every book's
    // back is drift.
    buy(&app, &alice, "1", Some("100")).await;
    broker.wait_listening(1, WAIT).await;
    let outside = json!({"symbol": "MSFT", "qty": "3", "side": "buy", "type": "limit",
                         "limit_price": "100", "time_in_force": "day", "client_order_id": "outside-1"});
    let (status, _) =
        crate::paper_broker::tests::call(&broker, Method::POST, "/v2/orders", Some(outside)).await;
    assert_eq!(status, 200);
    broker.fill("outside-1", "3", "100");
    eventually(WAIT, "the outside fill is in the operator book", || async {
        let held = app
            .db
            .count("SELECT count(*) FROM book_positions WHERE user_id = '00000000-0000-0000-0000-000000000000' AND symbol = 'MSFT' AND qty = 3")
            .await;
        (held == 1).then_some(())
    })
    .await;
    let (ok, _, err) = book_cli(&app, &broker, &["book", "reconcile"]).await;
    assert!(ok, "{err}");
    app.db
        .client()
        .await
        .execute(
            "UPDATE book_positions SET qty = 9 WHERE symbol = 'AAPL'",
            &[],
        )
        .await
        .unwrap();
    let (ok, out, _) = book_cli(&app, &broker, &["book", "reconcile"]).await;
    assert!(!ok);
    assert!(out.contains("AAPL\t9\t10\t1"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_the_book_and_an_erasure_cancels_open_orders_first() {
    let broker = PaperBroker::start().await;
    let app = book_app(&broker, &[]).await;
    let ada = app.sign_in("ada@example.com", false).await;
    buy(&app, &ada, "2", None).await;
    aapl_held(&app, &ada, "2").await;
    let open = buy(&app, &ada, "1", Some("100")).await;

    let export: Value = app
        .authed(Method::GET, "/api/account/export", &ada)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let book = &export["book"];
    assert_eq!(book["initial_cash"], "100000");
    assert_eq!(book["positions"][0]["qty"], "2");
    assert_eq!(book["fills"].as_array().unwrap().len(), 1);
    assert_eq!(export["orders"].as_array().unwrap().len(), 2);

    let erased = app
        .authed(Method::DELETE, "/api/account", &ada)
        .send()
        .await
        .unwrap();
    assert!(erased.status().is_success(), "{}", erased.status());
    assert_eq!(broker.order(&open)["status"], "canceled");
    // Cancel, then the erasure's row; the book stays under the pseudonymous id.
    let events: Vec<String> = app
        .db
        .client()
        .await
        .query("SELECT event FROM audit_log ORDER BY seq", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let cancel = events.iter().position(|e| e == "order.cancel").unwrap();
    let erase = events.iter().position(|e| e == "dsr.erase").unwrap();
    assert!(cancel < erase, "{events:?}");
    assert_eq!(app.db.count("SELECT count(*) FROM books").await, 1);
    assert_eq!(app.db.count("SELECT count(*) FROM fills").await, 1);
}
