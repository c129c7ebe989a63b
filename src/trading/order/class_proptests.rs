//! Property tests of the order-class rules: orders generated over every class, side, type,
//! time in force, size and leg price (prices from a narrow range so that every ordering
//! between them occurs) are accepted exactly when Alpaca's rules, restated plainly here, hold.

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;

#[derive(Debug, Clone)]
struct Generated {
    class: Option<&'static str>,
    side: &'static str,
    kind: &'static str,
    tif: &'static str,
    qty: Decimal,
    /// The entry's limit and stop price (used by the types that take them).
    limit: Decimal,
    stop: Decimal,
    /// An oco leaves its limit price out.
    omit_limit: bool,
    take_profit: Option<Decimal>,
    stop_loss: Option<(Decimal, Option<Decimal>)>,
}

fn price() -> impl Strategy<Value = Decimal> {
    (95i64..=105).prop_map(Decimal::from)
}

fn generated() -> impl Strategy<Value = Generated> {
    let class = prop::sample::select(vec![
        None,
        Some("simple"),
        Some("bracket"),
        Some("oco"),
        Some("oto"),
    ]);
    let side = prop::sample::select(vec!["buy", "sell"]);
    let kind = prop::sample::select(vec![
        "market",
        "limit",
        "stop",
        "stop_limit",
        "trailing_stop",
    ]);
    let tif = prop::sample::select(vec!["day", "gtc", "ioc"]);
    let qty = prop::sample::select(vec![Decimal::ONE, Decimal::TWO, Decimal::new(15, 1)]);
    let stop_loss = prop::option::of((price(), prop::option::of(price())));
    (
        (class, side, kind, tif, qty),
        (price(), price(), any::<bool>()),
        (prop::option::of(price()), stop_loss),
    )
        .prop_map(
            |(
                (class, side, kind, tif, qty),
                (limit, stop, omit_limit),
                (take_profit, stop_loss),
            )| {
                Generated {
                    class,
                    side,
                    kind,
                    tif,
                    qty,
                    limit,
                    stop,
                    omit_limit,
                    take_profit,
                    stop_loss,
                }
            },
        )
}

fn draft(g: &Generated) -> OrderDraft {
    let takes_limit = matches!(g.kind, "limit" | "stop_limit");
    let omit = g.omit_limit && g.class == Some("oco");
    OrderDraft {
        symbol: Some("AAPL".into()),
        qty: Some(g.qty),
        side: Some(g.side.into()),
        order_type: Some(g.kind.into()),
        time_in_force: Some(g.tif.into()),
        limit_price: (takes_limit && !omit).then_some(g.limit),
        stop_price: matches!(g.kind, "stop" | "stop_limit").then_some(g.stop),
        trail_price: (g.kind == "trailing_stop").then_some(Decimal::ONE),
        order_class: g.class.map(str::to_owned),
        take_profit: g.take_profit.map(|limit_price| TakeProfitDraft {
            limit_price: Some(limit_price),
        }),
        stop_loss: g.stop_loss.map(|(stop_price, limit_price)| StopLossDraft {
            stop_price: Some(stop_price),
            limit_price,
        }),
        ..OrderDraft::default()
    }
}

/// Alpaca's rules, restated.
fn expected(g: &Generated) -> bool {
    let class = g.class.unwrap_or("simple");
    let day_or_gtc = matches!(g.tif, "day" | "gtc");
    if g.kind == "trailing_stop" && !day_or_gtc {
        return false;
    }
    let (tp, sl) = (g.take_profit, g.stop_loss);
    if class == "simple" {
        return tp.is_none() && sl.is_none();
    }
    let legs = match class {
        "oto" => tp.is_some() != sl.is_some(),
        _ => tp.is_some() && sl.is_some(),
    };
    let kind = match class {
        "bracket" => matches!(g.kind, "market" | "limit"),
        "oco" => g.kind == "limit",
        _ => g.kind != "trailing_stop",
    };
    let oco_limit = class != "oco" || g.omit_limit || tp == Some(g.limit);
    if !(legs && kind && oco_limit && day_or_gtc && g.qty.fract().is_zero()) {
        return false;
    }
    // Long only: exits sell.
    let sells = (g.side == "buy") != (class == "oco");
    if !sells {
        return false;
    }
    let reference = match (class, g.kind) {
        ("oco", _) | (_, "market") => None,
        (_, "stop") => Some(g.stop),
        _ => Some(g.limit),
    };
    let above = |a: Decimal, b: Decimal| if sells { a > b } else { a < b };
    let crossed = matches!((tp, sl), (Some(tp), Some((stop, _))) if !above(tp, stop));
    let tp_wrong = matches!((tp, reference), (Some(tp), Some(r)) if !above(tp, r));
    let sl_wrong = matches!((sl, reference), (Some((stop, _)), Some(r)) if !above(r, stop));
    let sl_limit_wrong = matches!(sl, Some((stop, Some(limit))) if above(limit, stop));
    !(crossed || tp_wrong || sl_wrong || sl_limit_wrong)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn orders_are_accepted_exactly_when_the_class_rules_hold(g in generated()) {
        let parsed = Submission::parse(None, draft(&g));
        prop_assert_eq!(parsed.is_ok(), expected(&g), "{:?} gave {:?}", g, parsed);
        if let Ok(submission) = parsed {
            let ticket = submission.order.ticket();
            prop_assert_eq!(ticket.legs.is_some(), g.class.is_some_and(|c| c != "simple"));
            // What the ledger keeps parses back to the same order (a replacement's merge).
            let text = submission.order.canonical_json();
            let again: OrderDraft = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(OrderRequest::try_from(again).unwrap(), submission.order);
        }
    }
}
