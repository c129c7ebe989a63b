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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recorded_head_catches_rows_deleted_from_the_end_of_the_chain() {
    use crate::retention::raptor_cli;
    let app = spawn_app().await;
    let audit = app.app().actors().audit.slot().clone();
    for n in 0..3 {
        append(&audit, "test.head", n).await.unwrap();
    }
    let (ok, head, _) = raptor_cli(&app, &["audit", "head"]).await;
    assert!(ok);
    let head = head.trim().to_owned();
    let (seq, hash) = head.split_once(':').expect("SEQ:HASH");
    assert_eq!(seq, "3");
    assert_eq!(hash.len(), 64);
    let (ok, out, err) = raptor_cli(&app, &["audit", "verify", "--expect-head", &head]).await;
    assert!(ok, "{out}{err}");

    // The newest row deleted behind the application's back: the chain still verifies, the
    // recorded head does not.
    let db = app.db.client().await;
    db.execute("DELETE FROM audit_log WHERE seq = 3", &[])
        .await
        .unwrap();
    let (ok, _, _) = raptor_cli(&app, &["audit", "verify"]).await;
    assert!(ok, "a truncated chain has no broken link");
    let (ok, _, err) = raptor_cli(&app, &["audit", "verify", "--expect-head", &head]).await;
    assert!(!ok);
    assert!(err.contains("seq 3 is missing"), "{err}");
    // A row written in its place is another row.
    append(&audit, "test.head", 9).await.unwrap();
    let (ok, _, err) = raptor_cli(&app, &["audit", "verify", "--expect-head", &head]).await;
    assert!(!ok);
    assert!(err.contains("different hash"), "{err}");
    // A malformed head is refused before anything is read.
    for bad in ["3", "x:y", &format!("0:{hash}")] {
        let (ok, _, err) = raptor_cli(&app, &["audit", "verify", "--expect-head", bad]).await;
        assert!(!ok, "{bad}");
        assert!(err.contains("expect-head"), "{err}");
    }
}

/// The log lines written while `work` runs on this (current-thread) runtime.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_audit_writer_logs_the_chain_head_for_the_log_drain() {
    use ractor::Actor;
    use raptor_actors::audit::{AuditArgs, AuditWriter, HEAD_LOG_EVERY};
    assert_eq!(HEAD_LOG_EVERY, Duration::from_secs(600));
    let db = crate::helpers::TestDb::create().await;
    let pool = raptor::db::build_pool(&db.url, raptor::settings::DatabaseSsl::Disable, 2).unwrap();
    raptor::db::migrate(&pool).await.unwrap();
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .finish();
    // A current-thread runtime: every task of the writer logs through this subscriber.
    let _guard = tracing::subscriber::set_default(subscriber);
    let args = AuditArgs {
        pool,
        clock: std::sync::Arc::new(raptor_actors::clock::SystemClock),
        head_log_every: Some(Duration::from_millis(50)),
    };
    let (writer, _) = Actor::spawn(None, AuditWriter, args).await.unwrap();
    let client = raptor_actors::audit::AuditClient::unsupervised(writer.clone());
    let seq = client.append(AuditEntry::new("test.head")).await.unwrap();
    let row = db
        .client()
        .await
        .query_one(
            "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    let head: (i64, String) = (row.get(0), row.get(1));
    assert_eq!(head.0, seq);
    let line = crate::helpers::eventually(Duration::from_secs(10), "the head is logged", || {
        let text = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
        let found = text
            .lines()
            .find(|l| l.contains("audit chain head") && l.contains(&head.1))
            .map(str::to_owned);
        async move { found }
    })
    .await;
    assert!(line.contains(&format!("audit_head_seq={seq}")), "{line}");
    writer.stop(None);
}
