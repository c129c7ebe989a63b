use std::collections::BTreeMap;

use chrono::TimeZone;
use proptest::prelude::*;

use super::*;

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn at(second: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_765_000_000 + second, 0).unwrap()
}

fn exec(side: FillSide, qty: &str, notional: &str) -> Execution {
    Execution {
        side,
        qty: dec(qty),
        notional: dec(notional),
        at: at(0),
        order: "o".into(),
        cum_qty: dec(qty),
    }
}

#[test]
fn buys_add_cost_and_a_sell_realizes_against_the_average() {
    let mut h = Holding::default();
    h.apply(&exec(FillSide::Buy, "10", "1000"));
    h.apply(&exec(FillSide::Buy, "10", "1200"));
    assert_eq!(h.avg_entry_price(), dec("110"));
    h.apply(&exec(FillSide::Sell, "5", "600"));
    assert_eq!(h.qty, dec("15"));
    assert_eq!(h.cost_basis, dec("1650"));
    assert_eq!(h.realized_pl, dec("50"));
    h.apply(&exec(FillSide::Sell, "15", "1500"));
    assert_eq!(
        h,
        Holding {
            qty: Decimal::ZERO,
            cost_basis: Decimal::ZERO,
            realized_pl: dec("-100")
        }
    );
}

#[test]
fn an_oversell_opens_the_other_way_and_a_buy_covers_it() {
    let mut h = Holding::default();
    h.apply(&exec(FillSide::Buy, "10", "1000"));
    h.apply(&exec(FillSide::Sell, "15", "1650"));
    assert_eq!(
        (h.qty, h.cost_basis, h.realized_pl),
        (dec("-5"), dec("-550"), dec("100"))
    );
    h.apply(&exec(FillSide::Buy, "5", "500"));
    assert_eq!(
        (h.qty, h.cost_basis, h.realized_pl),
        (Decimal::ZERO, Decimal::ZERO, dec("150"))
    );
}

#[test]
fn rows_become_the_differences_of_their_order_in_time() {
    let row = |order: &str, side, cum: &str, notional: &str, second| FillRow {
        order: order.into(),
        side,
        cum_qty: dec(cum),
        cum_notional: dec(notional),
        filled_at: at(second),
    };
    let rows = [
        row("b", FillSide::Sell, "2", "220", 5),
        row("a", FillSide::Buy, "10", "1050", 3),
        row("a", FillSide::Buy, "4", "400", 1),
    ];
    let got: Vec<_> = executions(&rows)
        .into_iter()
        .map(|e| (e.order, e.qty, e.notional))
        .collect();
    assert_eq!(
        got,
        vec![
            ("a".into(), dec("4"), dec("400")),
            ("a".into(), dec("6"), dec("650")),
            ("b".into(), dec("2"), dec("220")),
        ]
    );
}

/// An order's executions in the order they happened: (side, qty, price) each.
fn orders() -> impl Strategy<Value = Vec<(FillSide, Vec<(u32, u32)>)>> {
    let side = prop_oneof![Just(FillSide::Buy), Just(FillSide::Sell)];
    let executions = prop::collection::vec((1u32..50, 1u32..500), 1..5);
    prop::collection::vec((side, executions), 1..6)
}

/// The rows each execution writes, with every execution at its own time.
fn rows_of(orders: &[(FillSide, Vec<(u32, u32)>)]) -> Vec<FillRow> {
    let mut rows = Vec::new();
    let mut second = 0;
    // Interleave orders in time: order i's j-th execution happens at step j * 10 + i.
    for (i, (side, executions)) in orders.iter().enumerate() {
        let (mut cum, mut notional) = (Decimal::ZERO, Decimal::ZERO);
        for (j, (qty, price)) in executions.iter().enumerate() {
            cum += Decimal::from(*qty);
            notional += Decimal::from(*qty) * Decimal::from(*price) / Decimal::from(100);
            second = (j * 10 + i) as i64;
            rows.push(FillRow {
                order: format!("order-{i}"),
                side: *side,
                cum_qty: cum,
                cum_notional: notional,
                filled_at: at(second),
            });
        }
    }
    let _ = second;
    rows
}

proptest! {
    /// Duplicates and any delivery order give the same book as each execution once, in order.
    #[test]
    fn delivery_order_and_duplicates_do_not_change_the_book(
        orders in orders(),
        shuffle in prop::collection::vec(any::<u32>(), 0..64),
        duplicates in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let rows = rows_of(&orders);
        let mut in_order = rows.clone();
        in_order.sort_by_key(|r| r.filled_at);
        let expected = Holding::fold(&executions(&in_order));

        // Delivered shuffled, some twice; recorded like the table does: the first row a key
        // gets is the one kept.
        let mut delivered = rows.clone();
        for index in &duplicates {
            delivered.push(index.get(&rows).clone());
        }
        for (i, pick) in shuffle.iter().enumerate() {
            let len = delivered.len();
            delivered.swap(i % len, *pick as usize % len);
        }
        let mut table: BTreeMap<(String, Decimal), FillRow> = BTreeMap::new();
        for row in delivered {
            table.entry((row.order.clone(), row.cum_qty)).or_insert(row);
        }
        let recorded: Vec<FillRow> = table.into_values().collect();
        prop_assert_eq!(Holding::fold(&executions(&recorded)), expected);
    }

    /// A reconciliation that saw only an order's final figures records the same cash and
    /// quantity as every execution would have.
    #[test]
    fn a_merged_catch_up_keeps_quantity_and_cost(orders in orders()) {
        let rows = rows_of(&orders);
        let all = executions(&rows);
        let mut last: BTreeMap<String, FillRow> = BTreeMap::new();
        for row in rows {
            let keep = last.get(&row.order).is_none_or(|r| r.cum_qty < row.cum_qty);
            if keep {
                last.insert(row.order.clone(), row);
            }
        }
        let merged = executions(&last.into_values().collect::<Vec<_>>());
        let flow = |e: &[Execution]| -> (Decimal, Decimal) {
            e.iter().fold((Decimal::ZERO, Decimal::ZERO), |(q, c), e| match e.side {
                FillSide::Buy => (q + e.qty, c - e.notional),
                FillSide::Sell => (q - e.qty, c + e.notional),
            })
        };
        prop_assert_eq!(flow(&merged), flow(&all));
    }
}
