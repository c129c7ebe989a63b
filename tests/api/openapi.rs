//! The OpenAPI document (ADR 0006): the committed `docs/openapi.json` is what the code
//! generates, it is served without a session, every route the router serves is in it (and
//! nothing else), and the reference page exists in development and test only.

use std::collections::BTreeSet;

use raptor::http::openapi::{self, DOCS_PAGE_POLICY};
use raptor::settings::AppEnv;
use reqwest::Method;
use serde_json::Value;

use crate::browser::BrowserTools;
use crate::helpers::{error_code, spawn_app, spawn_app_with, TestApp};

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");

/// The development-only pages: routes that are not part of the API, so not in the document.
const DEV_ONLY: [&str; 5] = [
    "/dev/passkeys",
    "/dev/console",
    "/dev/api",
    "/dev/api/",
    "/dev/api/{*rest}",
];
/// The fault-injection route of the error-reporting test: only in a `testing` build under
/// `APP_ENV=test`, never part of the API.
const TEST_ONLY: [&str; 1] = ["/api/test/faults/{kind}"];

#[test]
fn the_committed_document_is_what_the_code_generates() {
    let generated = openapi::document_json();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(COMMITTED, &generated).expect("write docs/openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "docs/openapi.json is stale: run `cargo run -- openapi > docs/openapi.json` \
         (or this test with UPDATE_OPENAPI=1) and commit the result"
    );
}

#[tokio::test]
async fn the_document_is_served_without_a_session() {
    let app = spawn_app().await;
    let response = app.get("/api/openapi.json").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let served: Value = response.json().await.unwrap();
    assert_eq!(served, serde_json::to_value(openapi::document()).unwrap());
    assert_eq!(served["openapi"], "3.1.0");
    assert_eq!(served["info"]["version"], openapi::API_VERSION);
}

#[test]
fn the_ceremony_and_order_bodies_have_examples() {
    let doc = serde_json::to_value(openapi::document()).unwrap();
    let schemas = &doc["components"]["schemas"];
    for name in [
        "RegisterOptionsRequest",
        "RegisterVerifyRequest",
        "LoginOptionsRequest",
        "LoginVerifyRequest",
        "RecoveryVerifyRequest",
        "AddPasskeyRequest",
        "CreationCeremony",
        "RequestCeremony",
        "OrderBody",
        "BacktestBody",
    ] {
        assert!(
            schemas[name]["example"].is_object(),
            "{name} has no example"
        );
    }
    let scheme = &doc["components"]["securitySchemes"]["session"];
    assert_eq!(scheme["type"], "apiKey");
    assert_eq!(scheme["in"], "cookie");
    assert_eq!(scheme["name"], "session");
}

#[test]
fn every_documented_order_field_is_one_the_order_parser_accepts() {
    let doc = serde_json::to_value(openapi::document()).unwrap();
    let properties = doc["components"]["schemas"]["OrderBody"]["properties"]
        .as_object()
        .unwrap();
    let body: serde_json::Map<String, Value> = properties
        .keys()
        .map(|name| (name.clone(), Value::Null))
        .collect();
    assert!(body.contains_key("type") && body.contains_key("qty"));
    // `OrderDraft` refuses unknown fields: a documented field it does not know fails here.
    let parsed: Result<raptor::trading::order::OrderDraft, _> =
        serde_json::from_value(Value::Object(body));
    assert!(parsed.is_ok(), "{parsed:?}");
}

/// The paths a router serves, from its `Debug` form (axum lists every registered path).
fn served_paths(app_env: AppEnv) -> BTreeSet<String> {
    let text = format!("{:?}", raptor::http::routes(app_env));
    let mut paths = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("RouteId(") {
        rest = &rest[at + "RouteId(".len()..];
        let Some(quoted) = rest
            .find(|c: char| !c.is_ascii_digit())
            .and_then(|end| rest[end..].strip_prefix("): \""))
        else {
            continue;
        };
        let path = &quoted[..quoted.find('"').expect("a closing quote")];
        if !path.contains("__private__") {
            paths.insert(path.to_owned());
        }
    }
    paths
}

/// The methods `path` answers, from the `Allow` header of a 405 to a method no route has.
async fn served_methods(app: &TestApp, path: &str) -> BTreeSet<String> {
    let concrete: String = path
        .split('/')
        .map(|segment| match segment {
            s if s.starts_with("{*") => "x".to_owned(),
            s if s.starts_with('{') => uuid::Uuid::new_v4().to_string(),
            s => s.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("/");
    let response = app
        .client
        .request(Method::TRACE, app.url(&concrete))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405, "TRACE {concrete}");
    response.headers()["allow"]
        .to_str()
        .unwrap()
        .split(',')
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| m != "head")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_the_router_serves_is_in_the_document_and_nothing_else() {
    let app = spawn_app_with(&[("ENABLE_GLOBAL_RATE_LIMIT", "false")]).await;
    let doc = serde_json::to_value(openapi::document()).unwrap();
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (path.clone(), method.clone()))
        })
        .collect();

    let paths = served_paths(AppEnv::Test);
    assert!(
        paths.len() > 40,
        "the router's paths were not found: {paths:?}"
    );
    let mut served = BTreeSet::new();
    let exempt = |p: &&String| DEV_ONLY.contains(&p.as_str()) || TEST_ONLY.contains(&p.as_str());
    for path in paths.iter().filter(|p| !exempt(p)) {
        for method in served_methods(&app, path).await {
            served.insert((path.clone(), method));
        }
    }
    let undocumented: Vec<_> = served.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "served, not documented: {undocumented:?}"
    );
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(unserved.is_empty(), "documented, not served: {unserved:?}");

    // Only the development pages are left out, and they exist only outside production.
    let dev: BTreeSet<_> = paths.iter().filter(|p| p.starts_with("/dev")).collect();
    assert_eq!(dev.len(), DEV_ONLY.len(), "{dev:?}");
    for env in [AppEnv::Production, AppEnv::Staging] {
        assert!(served_paths(env).iter().all(|p| !p.starts_with("/dev")));
    }
}

#[tokio::test]
async fn the_reference_page_is_served_in_test_under_its_own_policy() {
    let app = spawn_app().await;
    let page = app.get("/dev/api/").await;
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(page.headers()["content-security-policy"], DOCS_PAGE_POLICY);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("swagger-initializer.js"));

    let init = app.get("/dev/api/swagger-initializer.js").await;
    assert_eq!(init.status(), 200);
    assert!(init.text().await.unwrap().contains(openapi::PATH));
    let bundle = app.get("/dev/api/swagger-ui-bundle.js").await;
    assert_eq!(bundle.status(), 200, "Swagger UI is shipped in the binary");

    // Every other response keeps the global policy.
    let doc = app.get("/api/openapi.json").await;
    assert_eq!(
        doc.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reference_page_renders_every_operation_in_chromium_under_its_policy() {
    let tools = BrowserTools::require();
    let app = spawn_app().await;
    let output = tools
        .script("api-reference.mjs", &app.base, "", "")
        .wait_with_output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let operations = documented_operations();
    let rendered: usize = stdout
        .lines()
        .find_map(|line| line.strip_prefix("OK "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no OK line: {stdout}\n{stderr}"));
    assert_eq!(rendered, operations, "every operation is on the page");
}

fn documented_operations() -> usize {
    let doc = serde_json::to_value(openapi::document()).unwrap();
    doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum()
}

#[tokio::test]
async fn the_reference_page_is_not_found_in_production() {
    let app = spawn_app_with(&[
        ("APP_ENV", "production"),
        ("BIND_ADDRESS", "127.0.0.1"),
        ("PORT", "0"),
    ])
    .await;
    for path in ["/dev/api", "/dev/api/", "/dev/api/swagger-initializer.js"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 404, "{path}");
        assert_eq!(error_code(response).await, "not_found");
    }
    // The document itself is part of the API everywhere.
    assert_eq!(app.get("/api/openapi.json").await.status(), 200);
}
