use std::time::Duration;

use raptor_actors::audit::chain::{self, ChainReport};
use raptor_actors::audit::{AuditEntry, AuditMsg};
use raptor_actors::slot::Slot;

use crate::helpers::spawn_app;

async fn append(audit: &Slot<AuditMsg>, event: &'static str, n: u32) -> Result<i64, String> {
    let mut entry = AuditEntry::new(event);
    entry.details = serde_json::json!({"n": n, "z": "last", "a": "first"});
    entry.ip_prefix = Some("203.0.113.0/24".into());
    match audit
        .ask(
            |reply| AuditMsg::Append(entry, reply),
            Duration::from_secs(10),
        )
        .await
    {
        Ok(Ok(seq)) => Ok(seq),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_are_all_acknowledged_with_an_unbroken_chain() {
    let app = spawn_app().await;
    let peer = app.spawn_peer(&[]).await;
    const N: u32 = 200;
    let mut tasks = Vec::new();
    for n in 0..N {
        // Half the writers go through a second instance: one chain across processes.
        let audit = if n % 2 == 0 { app.app() } else { peer.app() }
            .actors()
            .audit
            .slot()
            .clone();
        tasks.push(tokio::spawn(async move {
            append(&audit, "test.concurrent", n).await
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.push(task.await.unwrap().expect("every append is acknowledged"));
    }
    seqs.sort();
    seqs.dedup();
    assert_eq!(
        seqs.len(),
        N as usize,
        "every row has its own sequence number"
    );

    let client = app.db.client().await;
    let count: i64 = client
        .query_one("SELECT count(*) FROM audit_log", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, i64::from(N));
    let batches: i64 = client
        .query_one("SELECT count(DISTINCT occurred_at) FROM audit_log", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        batches < i64::from(N),
        "rows were group-committed ({batches} transactions for {N} rows)"
    );
    assert_eq!(
        chain::verify(&client).await.unwrap(),
        ChainReport::Intact { rows: u64::from(N) }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_a_row_behind_the_application_breaks_the_chain_at_that_row() {
    let app = spawn_app().await;
    let audit = app.app().actors().audit.slot().clone();
    for n in 0..5 {
        append(&audit, "test.tamper", n).await.unwrap();
    }
    let client = app.db.client().await;
    client
        .execute(
            "UPDATE audit_log SET subject = 'someone else' WHERE seq = 3",
            &[],
        )
        .await
        .unwrap();
    assert!(matches!(
        chain::verify(&client).await.unwrap(),
        ChainReport::Broken { seq: 3, .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_fails_the_caller() {
    let app = spawn_app().await;
    let audit = app.app().actors().audit.slot().clone();
    let client = app.db.client().await;
    client
        .batch_execute("ALTER TABLE audit_log RENAME TO audit_log_away")
        .await
        .unwrap();
    assert!(append(&audit, "test.fails", 0).await.is_err());
    client
        .batch_execute("ALTER TABLE audit_log_away RENAME TO audit_log")
        .await
        .unwrap();
    assert_eq!(append(&audit, "test.recovers", 1).await, Ok(1));
    let count: i64 = client
        .query_one("SELECT count(*) FROM audit_log", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 1, "the failed row was not written");
}
