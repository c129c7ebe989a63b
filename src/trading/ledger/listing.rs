//! A user's orders read from the ledger, in Alpaca's order objects: the newest object Alpaca
//! sent for each (the stream's or a reconciliation's, else the submission's answer); an order
//! whose submission is not settled yet is shown as `pending_new`, built from its request.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use serde_json::{json, Value};
use uuid::Uuid;

use super::open::OPEN_ORDER;
use crate::trading::listing::{Cursor, OrderQuery, OrderStatusFilter};

/// One page of orders: each Alpaca order object as text, and where the next page starts.
pub struct Page {
    pub orders: Vec<String>,
    pub next: Option<Cursor>,
}

const COLUMNS: &str = "id, created_at, COALESCE(order_body, broker_body), request, \
                       client_order_id, alpaca_order_id";

/// `user_id`'s orders as `query` asks.
pub async fn page(
    client: &impl GenericClient,
    user_id: Uuid,
    query: &OrderQuery,
) -> Result<Page, tokio_postgres::Error> {
    let status = match query.status {
        OrderStatusFilter::Open => OPEN_ORDER.to_owned(),
        OrderStatusFilter::Closed => format!("NOT {OPEN_ORDER}"),
        OrderStatusFilter::All => "TRUE".to_owned(),
    };
    let (order, before) = if query.ascending {
        ("ASC", ">")
    } else {
        ("DESC", "<")
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM orders WHERE user_id = $1 AND status <> 'rejected' AND {status} \
         AND ($2::timestamptz IS NULL OR created_at > $2) \
         AND ($3::timestamptz IS NULL OR created_at < $3) \
         AND (cardinality($4::text[]) = 0 OR symbol = ANY($4)) \
         AND ($5::timestamptz IS NULL OR (created_at, id) {before} ($5, $6)) \
         AND (NOT $8 OR parent_id IS NULL) \
         ORDER BY created_at {order}, id {order} LIMIT $7"
    );
    let (cursor_at, cursor_id) = (
        query.cursor.map(|c| c.created_at),
        query.cursor.map_or(Uuid::nil(), |c| c.id),
    );
    let rows = client
        .query(
            &sql,
            &[
                &user_id,
                &query.after,
                &query.until,
                &query.symbols,
                &cursor_at,
                &cursor_id,
                &(i64::from(query.limit) + 1),
                &query.nested,
            ],
        )
        .await?;
    let more = rows.len() > usize::from(query.limit);
    let rows = &rows[..rows.len().min(usize::from(query.limit))];
    let next = more.then(|| rows.last()).flatten().map(|r| Cursor {
        id: r.get(0),
        created_at: r.get(1),
    });
    Ok(Page {
        orders: with_legs(client, rows).await?,
        next,
    })
}

/// `user_id`'s order `alpaca_order_id`, if it is theirs.
pub async fn one(
    client: &impl GenericClient,
    user_id: Uuid,
    alpaca_order_id: &str,
) -> Result<Option<String>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM orders WHERE user_id = $1 AND alpaca_order_id = $2 \
                 AND status <> 'rejected'"
            ),
            &[&user_id, &alpaca_order_id],
        )
        .await?;
    match row {
        Some(row) => Ok(with_legs(client, &[row]).await?.pop()),
        None => Ok(None),
    }
}

/// Each row's order object, with its legs (their newest objects) when it has any.
async fn with_legs(
    client: &impl GenericClient,
    rows: &[tokio_postgres::Row],
) -> Result<Vec<String>, tokio_postgres::Error> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.get(0)).collect();
    let mut legs = super::legs::of(client, &ids).await?;
    Ok(rows
        .iter()
        .map(|row| super::legs::nest(body(row), legs.remove(&row.get::<_, Uuid>(0))))
        .collect())
}

fn body(row: &tokio_postgres::Row) -> String {
    match row.get::<_, Option<String>>(2) {
        Some(body) => body,
        None => pending(
            row.get(3),
            row.get(4),
            row.get(5),
            row.get::<_, DateTime<Utc>>(1),
        ),
    }
}

/// An order Alpaca's answer is not known for yet, in Alpaca's fields.
fn pending(
    request: &str,
    client_order_id: &str,
    alpaca_order_id: Option<&str>,
    created_at: DateTime<Utc>,
) -> String {
    let mut order: Value = serde_json::from_str(request).unwrap_or_else(|_| json!({}));
    if let Some(fields) = order.as_object_mut() {
        fields.insert("id".into(), json!(alpaca_order_id));
        fields.insert("client_order_id".into(), json!(client_order_id));
        fields.insert("status".into(), json!("pending_new"));
        fields.insert("created_at".into(), json!(created_at));
        fields.insert("filled_qty".into(), json!("0"));
        fields.insert("filled_avg_price".into(), Value::Null);
    }
    order.to_string()
}
