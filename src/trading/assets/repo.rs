//! The SQL of the asset copy (migration V17): `assets` (the daily copy and the assets looked up
//! one at a time) and `asset_lookups` (what a looked-up symbol resolved to, or that Alpaca
//! knows none).

use chrono::{DateTime, Utc};
use deadpool_postgres::{Client, GenericClient};
use raptor_actors::broker::BrokerAsset;
use tokio_postgres::Row;

use crate::db::StorageError;

const COLUMNS: &str = "a.symbol, a.id, a.class, a.exchange, a.name, a.status, a.tradable, \
     a.marginable, a.shortable, a.easy_to_borrow, a.fractionable, a.attributes";
/// Rows written at once when the copy is replaced.
const BATCH: usize = 2_000;

fn asset(row: &Row) -> BrokerAsset {
    BrokerAsset {
        symbol: row.get(0),
        id: row.get(1),
        class: row.get(2),
        exchange: row.get(3),
        name: row.get(4),
        status: row.get(5),
        tradable: row.get(6),
        marginable: row.get(7),
        shortable: row.get(8),
        easy_to_borrow: row.get(9),
        fractionable: row.get(10),
        attributes: row.get(11),
    }
}

/// The asset spelled `symbol`, if the copy lists it or it was looked up after `since`.
pub async fn fresh(
    client: &Client,
    symbol: &str,
    since: DateTime<Utc>,
) -> Result<Option<BrokerAsset>, StorageError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM assets a WHERE a.symbol = $1 AND (a.listed OR a.fetched_at > $2)"
    );
    let row = client.query_opt(&sql, &[&symbol, &since]).await?;
    Ok(row.as_ref().map(asset))
}

/// What a lookup of `asked` after `since` found: `None` when there was none (or its asset is
/// gone), `Some(None)` when Alpaca knew no such symbol.
pub async fn looked_up(
    client: &Client,
    asked: &str,
    since: DateTime<Utc>,
) -> Result<Option<Option<BrokerAsset>>, StorageError> {
    let sql = format!(
        "SELECT {COLUMNS}, l.symbol IS NULL FROM asset_lookups l \
         LEFT JOIN assets a ON a.symbol = l.symbol WHERE l.asked = $1 AND l.fetched_at > $2"
    );
    let Some(row) = client.query_opt(&sql, &[&asked, &since]).await? else {
        return Ok(None);
    };
    let unknown: bool = row.get(12);
    if unknown {
        return Ok(Some(None));
    }
    let found: Option<String> = row.get(0);
    Ok(found.map(|_| Some(asset(&row))))
}

/// Stores what a lookup of `asked` found (`None`: nothing). A listed row stays listed.
pub async fn store_lookup(
    client: &Client,
    asked: &str,
    found: Option<&BrokerAsset>,
    now: DateTime<Utc>,
) -> Result<(), StorageError> {
    if let Some(found) = found {
        upsert(client, std::slice::from_ref(found), false, now).await?;
    }
    client
        .execute(
            "INSERT INTO asset_lookups (asked, symbol, fetched_at) VALUES ($1, $2, $3) \
             ON CONFLICT (asked) DO UPDATE SET symbol = $2, fetched_at = $3",
            &[&asked, &found.map(|a| a.symbol.as_str()), &now],
        )
        .await?;
    Ok(())
}

/// Writes `assets`; `listed` marks them as the daily copy (a lookup never unlists a row).
async fn upsert(
    client: &impl GenericClient,
    assets: &[BrokerAsset],
    listed: bool,
    now: DateTime<Utc>,
) -> Result<u64, StorageError> {
    let column = |f: fn(&BrokerAsset) -> String| assets.iter().map(f).collect::<Vec<_>>();
    let flag = |f: fn(&BrokerAsset) -> bool| assets.iter().map(f).collect::<Vec<_>>();
    let attributes = column(|a| serde_json::Value::from(a.attributes.clone()).to_string());
    let written = client
        .execute(
            "INSERT INTO assets (symbol, id, class, exchange, name, status, tradable, marginable, \
               shortable, easy_to_borrow, fractionable, attributes, listed, fetched_at) \
             SELECT s, i, c, e, n, st, t, m, sh, etb, f, \
               ARRAY(SELECT jsonb_array_elements_text(attrs::jsonb)), $13::bool, $14::timestamptz \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
               $7::bool[], $8::bool[], $9::bool[], $10::bool[], $11::bool[], $12::text[]) \
               AS u(s, i, c, e, n, st, t, m, sh, etb, f, attrs) \
             ON CONFLICT (symbol) DO UPDATE SET id = EXCLUDED.id, class = EXCLUDED.class, \
               exchange = EXCLUDED.exchange, name = EXCLUDED.name, status = EXCLUDED.status, \
               tradable = EXCLUDED.tradable, marginable = EXCLUDED.marginable, \
               shortable = EXCLUDED.shortable, easy_to_borrow = EXCLUDED.easy_to_borrow, \
               fractionable = EXCLUDED.fractionable, attributes = EXCLUDED.attributes, \
               listed = assets.listed OR EXCLUDED.listed, fetched_at = EXCLUDED.fetched_at",
            &[
                &column(|a| a.symbol.clone()),
                &column(|a| a.id.clone()),
                &column(|a| a.class.clone()),
                &column(|a| a.exchange.clone()),
                &column(|a| a.name.clone()),
                &column(|a| a.status.clone()),
                &flag(|a| a.tradable),
                &flag(|a| a.marginable),
                &flag(|a| a.shortable),
                &flag(|a| a.easy_to_borrow),
                &flag(|a| a.fractionable),
                &attributes,
                &listed,
                &now,
            ],
        )
        .await?;
    Ok(written)
}

/// Replaces the daily copy with `assets` (one symbol once) in one transaction: what the list
/// no longer holds stays only as a lookup would (a day from its `fetched_at`).
pub async fn replace_listed(
    client: &mut Client,
    assets: &[BrokerAsset],
    now: DateTime<Utc>,
) -> Result<u64, StorageError> {
    let tx = client.transaction().await?;
    tx.execute("UPDATE assets SET listed = false WHERE listed", &[])
        .await?;
    let mut written = 0;
    for batch in assets.chunks(BATCH) {
        written += upsert(&tx, batch, true, now).await?;
    }
    tx.commit().await?;
    Ok(written)
}

/// What `GET /api/assets` may filter on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// A symbol's beginning or a part of the name, any case.
    pub search: Option<String>,
    pub class: Option<String>,
    pub status: Option<String>,
    pub limit: i64,
}

/// The assets `filter` picks from the copy (and lookups after `since`); an exact symbol match
/// first, then by symbol.
pub async fn search(
    client: &Client,
    filter: &Filter,
    since: DateTime<Utc>,
) -> Result<Vec<BrokerAsset>, StorageError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM assets a WHERE (a.listed OR a.fetched_at > $1) \
         AND ($2::text IS NULL OR starts_with(a.symbol, upper($2)) \
              OR strpos(upper(a.name), upper($2)) > 0) \
         AND ($3::text IS NULL OR a.class = $3) AND ($4::text IS NULL OR a.status = $4) \
         ORDER BY a.symbol <> coalesce(upper($2), ''), a.symbol LIMIT $5"
    );
    let rows = client
        .query(
            &sql,
            &[
                &since,
                &filter.search,
                &filter.class,
                &filter.status,
                &filter.limit,
            ],
        )
        .await?;
    Ok(rows.iter().map(asset).collect())
}
