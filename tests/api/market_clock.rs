//! The market clock and calendar (issue 26 item 6): Alpaca's `/v2/clock` kept a few seconds,
//! `/v2/calendar` kept in Postgres a month at a time, both through the broker's budget.

use reqwest::Method;
use serde_json::Value;

use crate::alpaca_stub::AlpacaStub;
use crate::helpers::error_code;
use crate::trading::{get, trading_app};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_and_calendar_come_from_alpaca_and_are_kept() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    let user = app.sign_in("trader@example.com", false).await;
    for _ in 0..2 {
        let clock: Value = get(&app, &user, "/api/market/clock")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(clock["is_open"], true);
        assert_eq!(clock["next_close"], "2026-12-07T16:00:00-05:00");
    }
    assert_eq!(
        stub.count(Method::GET, "/v2/clock"),
        1,
        "kept a few seconds"
    );

    let path = "/api/market/calendar?start=2026-12-21&end=2026-12-31";
    for _ in 0..2 {
        let response = get(&app, &user, path).await;
        assert_eq!(response.status(), 200);
        let days: Value = response.json().await.unwrap();
        let dates: Vec<&str> = days
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["date"].as_str().unwrap())
            .collect();
        assert_eq!(
            dates,
            [
                "2026-12-21",
                "2026-12-22",
                "2026-12-23",
                "2026-12-24",
                "2026-12-28",
                "2026-12-29",
                "2026-12-30",
                "2026-12-31"
            ]
        );
        assert_eq!(days[3]["close"], "13:00", "the short day");
    }
    assert_eq!(
        stub.count(Method::GET, "/v2/calendar"),
        1,
        "December is kept in Postgres"
    );
    let query = &stub
        .seen()
        .into_iter()
        .find(|s| s.path == "/v2/calendar")
        .unwrap()
        .query;
    assert!(
        query.contains("start=2026-12-01") && query.contains("end=2026-12-31"),
        "{query}"
    );
    for bad in [
        "start=12/01/2026",
        "start=2026-12-10&end=2026-12-01",
        "start=2026-01-01&end=2027-06-01",
    ] {
        let response = get(&app, &user, &format!("/api/market/calendar?{bad}")).await;
        assert_eq!(response.status(), 422, "{bad}");
        assert_eq!(error_code(response).await, "invalid_query");
    }
}
