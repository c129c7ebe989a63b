//! [`OwnerCache`]: who placed an order, read from the ledger once per event per process (not
//! once per stream): the events the stream actor has queued are looked up together, in one
//! query, and found owners are remembered, so further events of an order cost no query.
//!
//! Only found owners are remembered: an order this process has not seen yet may be claimed in
//! the ledger a moment later. The cache is bounded (it starts over when full).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use deadpool_postgres::Pool;
use uuid::Uuid;

/// Orders remembered before the cache starts over.
const MAX_CACHED: usize = 10_000;
/// Bound on one lookup: events whose owners cannot be read in time go to operators only.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// Client order id → the user who placed it.
#[derive(Default)]
pub struct OwnerCache {
    owners: Mutex<HashMap<String, Uuid>>,
}

impl OwnerCache {
    /// Who placed each of `client_order_ids` (in order); `None` when it is not in the ledger,
    /// has no id, or cannot be read (the event is then withheld from everyone but operators).
    pub async fn owners(
        &self,
        pool: &Pool,
        client_order_ids: &[Option<&str>],
    ) -> Vec<Option<Uuid>> {
        let mut known: HashMap<String, Uuid> = HashMap::new();
        let mut missing: Vec<String> = Vec::new();
        {
            let owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
            for id in client_order_ids.iter().flatten() {
                match owners.get(*id) {
                    Some(owner) => _ = known.insert((*id).to_owned(), *owner),
                    None if !missing.iter().any(|m| m == id) => missing.push((*id).to_owned()),
                    None => {}
                }
            }
        }
        if !missing.is_empty() {
            let found = self.read(pool, &missing).await;
            let mut owners = self.owners.lock().unwrap_or_else(|e| e.into_inner());
            if owners.len() + found.len() > MAX_CACHED {
                owners.clear();
            }
            owners.extend(found.iter().cloned());
            known.extend(found);
        }
        (client_order_ids.iter())
            .map(|id| id.and_then(|id| known.get(id).copied()))
            .collect()
    }

    /// The owners found for `missing`; none when the ledger cannot be read in time.
    async fn read(&self, pool: &Pool, missing: &[String]) -> Vec<(String, Uuid)> {
        match tokio::time::timeout(LOOKUP_TIMEOUT, read(pool, missing)).await {
            Ok(Ok(found)) => found,
            Ok(Err(error)) => {
                tracing::warn!(%error, "order events withheld: the ledger is unreadable");
                Vec::new()
            }
            Err(_) => {
                tracing::warn!("order events withheld: the ledger answered too late");
                Vec::new()
            }
        }
    }
}

/// The owners of the orders `client_order_ids` that are in the ledger and still have one.
async fn read(pool: &Pool, client_order_ids: &[String]) -> Result<Vec<(String, Uuid)>, String> {
    let client = pool.get().await.map_err(|e| e.to_string())?;
    let rows = client
        .query(
            "SELECT client_order_id, user_id FROM orders \
             WHERE client_order_id = ANY($1) AND user_id IS NOT NULL",
            &[&client_order_ids],
        )
        .await
        .map_err(|e| e.to_string())?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}
