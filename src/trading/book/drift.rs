//! `raptor book reconcile`: the books together (every user's, plus the operator book for orders
//! placed outside Raptor) against the shared account's positions at Alpaca, per symbol.

use std::collections::BTreeMap;

use deadpool_postgres::GenericClient;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::decimal;

/// One symbol whose books and Alpaca disagree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    pub symbol: String,
    pub books: Decimal,
    pub alpaca: Decimal,
}

/// Each symbol's quantity over all books.
pub async fn book_totals(
    client: &impl GenericClient,
) -> Result<BTreeMap<String, Decimal>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT symbol, sum(qty) FROM book_positions GROUP BY symbol",
            &[],
        )
        .await?;
    Ok(rows.into_iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Each symbol's signed quantity in Alpaca's positions (`GET /v2/positions` as received).
pub fn alpaca_totals(positions: &str) -> Option<BTreeMap<String, Decimal>> {
    #[derive(Deserialize)]
    struct Position {
        symbol: String,
        qty: serde_json::Value,
        side: Option<String>,
    }
    let positions: Vec<Position> = serde_json::from_str(positions).ok()?;
    let mut totals = BTreeMap::new();
    for p in positions {
        let qty = decimal(&p.qty)?;
        let qty = if p.side.as_deref() == Some("short") && qty > Decimal::ZERO {
            -qty
        } else {
            qty
        };
        *totals.entry(p.symbol).or_insert(Decimal::ZERO) += qty;
    }
    Some(totals)
}

/// The symbols where the two disagree, in order.
pub fn drift(books: &BTreeMap<String, Decimal>, alpaca: &BTreeMap<String, Decimal>) -> Vec<Drift> {
    let symbols: std::collections::BTreeSet<&String> = books.keys().chain(alpaca.keys()).collect();
    symbols
        .into_iter()
        .filter_map(|symbol| {
            let b = books.get(symbol).copied().unwrap_or_default();
            let a = alpaca.get(symbol).copied().unwrap_or_default();
            (b != a).then(|| Drift {
                symbol: symbol.clone(),
                books: b,
                alpaca: a,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drift_names_each_symbol_the_books_and_alpaca_disagree_on() {
        let alpaca = alpaca_totals(
            r#"[{"symbol":"AAPL","qty":"10","side":"long"},{"symbol":"TSLA","qty":5,"side":"short"}]"#,
        )
        .unwrap();
        let books: BTreeMap<String, Decimal> = [
            ("AAPL".to_owned(), Decimal::from(10)),
            ("MSFT".to_owned(), Decimal::from(1)),
        ]
        .into();
        let found = drift(&books, &alpaca);
        let symbols: Vec<&str> = found.iter().map(|d| d.symbol.as_str()).collect();
        assert_eq!(symbols, ["MSFT", "TSLA"]);
        assert_eq!(found[1].alpaca, Decimal::from(-5));
        assert!(alpaca_totals("{}").is_none());
    }
}
