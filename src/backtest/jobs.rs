//! Reading and cancelling a user's backtest jobs: [`get`] (one in full), [`list`] (summaries,
//! newest first, a page at a time with a cursor) and [`cancel`]. Each is the caller's own:
//! anyone else's job is "not found".
//!
//! A job as shown ([`view`]): `{id, status, progress, attempts, request, created_at,
//! finished_at}`; `last_error` once an attempt failed; `retry_at` while it waits out a backoff;
//! once succeeded the result's fields; once failed the `reason`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde_json::{json, Value};
use uuid::Uuid;

use super::repo::{self, Cancel, Kind, Position, RunRow};
use super::BacktestError;
use crate::db::StorageError;
use crate::input::InvalidInput;

/// Jobs a page lists by default, and at most.
pub const PAGE_DEFAULT: i64 = 50;
pub const PAGE_MAX: i64 = 100;

/// One of the caller's jobs of `kind`, in full.
pub async fn get(pool: &Pool, user_id: Uuid, kind: Kind, id: Uuid) -> Result<Value, BacktestError> {
    let client = pool.get().await.map_err(StorageError::from)?;
    let row = repo::get(&client, user_id, kind, id).await?;
    row.map(view).ok_or(BacktestError::NotFound)
}

/// A page of the caller's jobs of `kind`, newest first, without trades, curves or
/// combinations: `{<items>: [...], next_cursor}` (`next_cursor` null on the last page).
pub async fn list(
    pool: &Pool,
    user_id: Uuid,
    kind: Kind,
    cursor: Option<&str>,
    limit: Option<i64>,
) -> Result<Value, BacktestError> {
    let limit = match limit {
        None => PAGE_DEFAULT,
        Some(n) if (1..=PAGE_MAX).contains(&n) => n,
        Some(_) => {
            let why = format!("must be from 1 to {PAGE_MAX}");
            return Err(InvalidInput::single("limit", why).into());
        }
    };
    let after = cursor.map(parse_cursor).transpose()?;
    let client = pool.get().await.map_err(StorageError::from)?;
    let mut rows = repo::list(&client, user_id, kind, after, limit + 1).await?;
    let next = (rows.len() as i64 > limit).then(|| {
        rows.truncate(limit as usize);
        rows.last().map(|r| make_cursor((r.created_at, r.id)))
    });
    let key = match kind {
        Kind::Run => "runs",
        Kind::Sweep => "sweeps",
    };
    let items: Vec<Value> = rows.into_iter().map(view).collect();
    Ok(json!({ key: items, "next_cursor": next.flatten() }))
}

/// Cancels one of the caller's jobs (a run or a sweep) that has not ended: a queued one at
/// once, a running one as soon as its worker sees it (within a second).
pub async fn cancel(
    pool: &Pool,
    user_id: Uuid,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Value, BacktestError> {
    let client = pool.get().await.map_err(StorageError::from)?;
    match repo::cancel(&client, user_id, id, now).await? {
        Cancel::Canceled(row) => Ok(view(row)),
        Cancel::Finished(row) => Err(BacktestError::AlreadyFinished(row.status)),
        Cancel::NotFound => Err(BacktestError::NotFound),
    }
}

fn make_cursor((at, id): Position) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}.{id}", at.timestamp_micros()))
}

fn parse_cursor(raw: &str) -> Result<Position, BacktestError> {
    let bad = || InvalidInput::single("cursor", "is not a cursor this API gave out");
    let text = URL_SAFE_NO_PAD.decode(raw).map_err(|_| bad())?;
    let text = String::from_utf8(text).map_err(|_| bad())?;
    let (micros, id) = text.split_once('.').ok_or_else(bad)?;
    let at = micros
        .parse()
        .ok()
        .and_then(DateTime::from_timestamp_micros)
        .ok_or_else(bad)?;
    Ok((at, id.parse().map_err(|_| bad())?))
}

/// A job as the API shows it (see the module head).
pub fn view(row: RunRow) -> Value {
    let mut out = json!({
        "id": row.id,
        "status": row.status,
        "progress": row.progress,
        "attempts": row.attempts,
        "request": row.request,
        "created_at": row.created_at,
        "finished_at": row.finished_at,
    });
    let Some(map) = out.as_object_mut() else {
        return out;
    };
    if let Some(error) = row.last_error {
        map.insert("last_error".into(), error.into());
    }
    if let (Some(at), "queued") = (row.not_before, row.status.as_str()) {
        map.insert("retry_at".into(), json!(at));
    }
    if let Some(Value::Object(result)) = row.result {
        map.extend(result);
    }
    if let Some(reason) = row.reason {
        map.insert("reason".into(), reason.into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_forgeries_are_refused() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        let id = Uuid::new_v4();
        assert_eq!(parse_cursor(&make_cursor((at, id))).unwrap(), (at, id));
        for bad in [
            "",
            "!!",
            "bm90LWEtY3Vyc29y",
            &URL_SAFE_NO_PAD.encode("12.x"),
        ] {
            assert!(parse_cursor(bad).is_err(), "{bad}");
        }
    }
}
