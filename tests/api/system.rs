use crate::helpers::{error_code, raw_request, spawn_app, spawn_app_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_routes_answer_ok_without_the_database() {
    let app = spawn_app().await;
    for path in ["/health", "/api/system/health"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("x-request-id"));
        assert_eq!(
            response.json::<serde_json::Value>().await.unwrap(),
            serde_json::json!({"status": "ok"})
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_says_ok_and_nothing_else() {
    let app = spawn_app().await;
    let response = app.get("/api/system/status").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_is_degraded_when_the_database_is_unreachable() {
    let app = spawn_app_with(&[("DATABASE_URL", "postgres://postgres@127.0.0.1:1/nowhere")]).await;
    let response = app.get("/api/system/status").await;
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "degraded"}));
    // Liveness does not depend on the database.
    assert_eq!(app.get("/health").await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_is_an_empty_200() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers().get("server").is_none());
    assert_eq!(response.text().await.unwrap(), "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_methods_get_json_errors() {
    let app = spawn_app().await;
    let response = app.get("/api/does-not-exist").await;
    assert_eq!(response.status(), 404);
    assert_eq!(error_code(response).await, "not_found");

    let response = app.client.delete(app.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(error_code(response).await, "method_not_allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raptor_always_uses_its_own_request_id_whatever_the_client_sends() {
    let app = spawn_app().await;
    let kept = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "abcdef12-3456")
        .send()
        .await
        .unwrap();
    let own = kept.headers()["x-request-id"].to_str().unwrap();
    assert_ne!(own, "abcdef12-3456", "a client cannot choose the id");
    assert!(uuid::Uuid::parse_str(own).is_ok());
    let replaced = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "<script>alert(1)</script>")
        .send()
        .await
        .unwrap();
    assert_ne!(
        replaced.headers()["x-request-id"],
        "<script>alert(1)</script>"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_files_are_served_only_from_the_static_dir_with_known_extensions() {
    let dir = std::env::temp_dir().join(format!("raptor-static-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("assets/app.js"), "console.log(1)").unwrap();
    std::fs::write(dir.join(".env"), "SECRET=1").unwrap();
    std::fs::write(dir.join("run.sh"), "echo").unwrap();
    let app = spawn_app_with(&[("STATIC_DIR", dir.to_str().unwrap())]).await;

    let response = app.get("/assets/app.js").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "console.log(1)");

    for path in [
        "/.env",
        "/run.sh",
        "/assets/missing.js",
        "/assets",
        "/%2e%2e/Cargo.toml",
        "/assets/%2e%2e/.env",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(error_code(response).await, "not_found");
    }
    // A raw traversal a normalising client would never send.
    let (status, text) = raw_request(
        &app.base,
        "GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(status == 404 || status == 400, "{status}");
    assert!(!text.contains("root:"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_static_dir_every_unknown_get_is_404() {
    let app = spawn_app().await;
    assert_eq!(app.get("/index.html").await.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diagnostic_is_for_operators_only_and_names_no_secret() {
    let app = spawn_app_with(&[("ALPACA_PAPER_API_SECRET", "diagnostic-must-not-show-this")]).await;
    let anonymous = app.get("/api/system/diagnostic").await;
    assert_eq!(anonymous.status(), 401);

    let customer = app.sign_in("customer@example.com", false).await;
    let refused = app
        .authed(reqwest::Method::GET, "/api/system/diagnostic", &customer)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert_eq!(error_code(refused).await, "operator_only");

    let operator = app.sign_in("operator@example.com", true).await;
    let response = app
        .authed(reqwest::Method::GET, "/api/system/diagnostic", &operator)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    assert!(
        !text.contains("diagnostic-must-not-show-this")
            && !text.contains(crate::helpers::TEST_SECRET_KEY)
    );
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["actors"]["audit writer"], "running");
    assert_eq!(body["database"]["reachable"], true);
    let missing = body["missing_config"].as_array().unwrap();
    assert!(missing.contains(&serde_json::json!("ALPACA_PAPER_API_KEY")));
    assert!(!missing.contains(&serde_json::json!("ALPACA_PAPER_API_SECRET")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_turns_degraded_within_two_seconds_of_the_database_going_away() {
    let app = crate::helpers::spawn_app().await;
    assert_eq!(app.get("/api/system/status").await.status(), 200);
    let (admin, connection) =
        tokio_postgres::connect(&crate::helpers::admin_url(), tokio_postgres::NoTls)
            .await
            .unwrap();
    tokio::spawn(connection);
    admin
        .batch_execute(&format!("DROP DATABASE \"{}\" WITH (FORCE)", app.db.name))
        .await
        .unwrap();
    let gone = std::time::Instant::now();
    crate::helpers::eventually(
        std::time::Duration::from_millis(2500),
        "degraded",
        || async { (app.get("/api/system/status").await.status() == 503).then_some(()) },
    )
    .await;
    assert!(gone.elapsed() <= std::time::Duration::from_millis(2500));
    assert_eq!(
        app.get("/health").await.status(),
        200,
        "liveness needs no database"
    );
}
