//! The configured kill switch is audited once across dynos (issue 24): a process that starts
//! (or re-reads its configuration) with a broker state different from the last one recorded
//! writes `kill_switch.engage`/`kill_switch.release` with source `config`, and several
//! processes making the same change together write one row between them.

use std::time::Duration;

use futures_util::future::join_all;
use raptor_actors::audit::chain::{self, ChainReport};
use raptor_actors::broker::config_record::{record, Recorded};
use serde_json::{json, Value};

use crate::alpaca_stub::AlpacaStub;
use crate::helpers::{eventually, spawn_app, test_settings, TestApp};
use crate::trading::{audit_rows, trading_app};

const WAIT: Duration = Duration::from_secs(10);

/// The configured state as last recorded: `Some(engaged)`.
async fn recorded(app: &TestApp) -> Option<bool> {
    app.db
        .client()
        .await
        .query_opt("SELECT engaged FROM broker_config_state", &[])
        .await
        .unwrap()
        .map(|row| row.get(0))
}

/// The kill-switch audit rows: event and source.
async fn switch_changes(app: &TestApp) -> Vec<(String, Value)> {
    audit_rows(app)
        .await
        .into_iter()
        .filter(|r| r.0.starts_with("kill_switch."))
        .map(|r| (r.0, r.3["source"].clone()))
        .collect()
}

async fn recorded_becomes(app: &TestApp, engaged: bool) {
    eventually(WAIT, "the configured state is recorded", || async {
        (recorded(app).await == Some(engaged)).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_starting_together_with_trading_unconfigured_audit_it_once() {
    let stub = AlpacaStub::start().await;
    let app = trading_app(&stub, &[]).await;
    // The first process ever records the state without a row: nothing changed.
    recorded_becomes(&app, false).await;
    assert!(switch_changes(&app).await.is_empty());

    // `heroku config:set ALPACA_AUTH_MODE=''`: every dyno restarts with trading off, together.
    let mut off = stub.overrides();
    off.retain(|(k, _)| *k != "ALPACA_AUTH_MODE");
    off.push(("ALPACA_AUTH_MODE", ""));
    let peers = join_all((0..3).map(|_| app.spawn_peer(&off))).await;
    recorded_becomes(&app, true).await;
    let engaged = eventually(WAIT, "the engage is audited", || async {
        let changes = switch_changes(&app).await;
        (!changes.is_empty()).then_some(changes)
    })
    .await;
    assert_eq!(
        engaged,
        [("kill_switch.engage".to_owned(), json!("config"))]
    );

    // They all re-read a configuration that allows trading (a SIGHUP): one release.
    for peer in &peers {
        peer.app()
            .reload(&test_settings(&app.db.url, &stub.overrides()));
    }
    recorded_becomes(&app, false).await;
    let changes = eventually(WAIT, "the release is audited", || async {
        let changes = switch_changes(&app).await;
        (changes.len() >= 2).then_some(changes)
    })
    .await;
    assert_eq!(
        changes,
        [
            ("kill_switch.engage".to_owned(), json!("config")),
            ("kill_switch.release".to_owned(), json!("config")),
        ]
    );
}

/// The domain's row for a change of the configured switch, as startup wires it.
fn switch_entry(engaged: bool) -> raptor_actors::audit::AuditEntry {
    raptor::audit::AuditEvent::kill_switch(engaged).entry()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_records_of_one_change_write_exactly_one_chained_row() {
    // Without ALPACA_AUTH_MODE the configuration stops trading: recorded as engaged.
    let app = spawn_app().await;
    recorded_becomes(&app, true).await;
    let settings = test_settings(&app.db.url, &[]);
    let pool = raptor::db::build_pool(&app.db.url, settings.database.ssl, 8).unwrap();

    let now = chrono::Utc::now();
    let outcomes = join_all((0..8).map(|_| record(&pool, now, None, switch_entry))).await;
    let outcomes: Vec<Recorded> = outcomes.into_iter().map(Result::unwrap).collect();
    let changed = outcomes.iter().filter(|o| **o == Recorded::Changed).count();
    assert_eq!(changed, 1, "{outcomes:?}");
    assert!(outcomes
        .iter()
        .all(|o| matches!(o, Recorded::Changed | Recorded::Unchanged)));
    assert_eq!(
        switch_changes(&app).await,
        [("kill_switch.release".to_owned(), json!("config"))]
    );
    // The row was appended to the one chain the audit writer extends.
    let report = chain::verify(&app.db.client().await).await.unwrap();
    assert!(matches!(report, ChainReport::Intact { .. }), "{report:?}");

    // The same state again: nothing more.
    assert_eq!(
        record(&pool, now, None, switch_entry).await.unwrap(),
        Recorded::Unchanged
    );
    assert_eq!(switch_changes(&app).await.len(), 1);
}
