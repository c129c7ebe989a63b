//! The daily close snapshot of every book (the worker, after the US close): each book's equity
//! as [`super::view`] prices it, the rows [`super::history`] reads.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use raptor_actors::market_data::MarketDataClient;
use uuid::Uuid;

use crate::db::StorageError;

/// Takes today's close snapshot of every book (the worker, after the US close). A book already
/// snapshotted today keeps its first row, so several workers taking it agree; how many were new.
pub async fn snapshot_all(
    pool: &Pool,
    market_data: &MarketDataClient,
    now: DateTime<Utc>,
) -> Result<u64, StorageError> {
    let client = pool.get().await?;
    let day = now.date_naive();
    let users: Vec<Uuid> = client
        .query(
            "SELECT user_id FROM books b WHERE NOT EXISTS \
             (SELECT 1 FROM book_snapshots s WHERE s.user_id = b.user_id AND s.day = $1)",
            &[&day],
        )
        .await?
        .into_iter()
        .map(|r| r.get(0))
        .collect();
    let mut taken = 0;
    for user_id in users {
        let Some(book) = super::view::book(&client, market_data, user_id).await? else {
            continue;
        };
        taken += client
            .execute(
                "INSERT INTO book_snapshots (user_id, day, equity, cash, taken_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                &[
                    &user_id,
                    &day,
                    &book.account.equity,
                    &book.account.cash,
                    &now,
                ],
            )
            .await?;
    }
    Ok(taken)
}
