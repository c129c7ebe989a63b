//! Unit tests of the simulated broker.

use super::*;
use std::str::FromStr;

fn order(side: &str, kind: &str, qty: &str, limit: Option<&str>) -> OrderTicket {
    let limit = limit.map(|l| Decimal::from_str(l).unwrap());
    OrderTicket {
        symbol: "AAPL".into(),
        size: TicketSize::Qty(Decimal::from_str(qty).unwrap()),
        side: if side == "buy" {
            TicketSide::Buy
        } else {
            TicketSide::Sell
        },
        kind: match (kind, limit) {
            ("limit", Some(limit_price)) => TicketKind::Limit { limit_price },
            _ => TicketKind::Market,
        },
        time_in_force: "day",
        extended_hours: false,
        legs: None,
    }
}

fn random_id() -> String {
    Uuid::new_v4().to_string()
}

fn cash(sim: &Simulator) -> Decimal {
    let account: Value = serde_json::from_str(sim.account().unwrap().as_str()).unwrap();
    Decimal::from_str(account["cash"].as_str().unwrap()).unwrap()
}

#[test]
fn market_orders_fill_and_move_cash_and_positions_together() {
    let now = Utc::now();
    let mut sim = Simulator::new(now);
    let price = Simulator::price("AAPL");
    sim.submit(&order("buy", "market", "10", None), &random_id(), now)
        .unwrap();
    assert_eq!(cash(&sim), STARTING_CASH - price * Decimal::from(10));
    sim.submit(&order("sell", "market", "4", None), &random_id(), now)
        .unwrap();
    assert_eq!(cash(&sim), STARTING_CASH - price * Decimal::from(6));
    let positions: Value = serde_json::from_str(sim.positions().unwrap().as_str()).unwrap();
    assert_eq!(positions[0]["qty"], "6");
    let err = sim
        .submit(&order("sell", "market", "7", None), &random_id(), now)
        .unwrap_err();
    assert!(matches!(err, BrokerError::Refused { status: 403, .. }));
}

#[test]
fn a_resting_limit_order_can_be_cancelled_once() {
    let now = Utc::now();
    let mut sim = Simulator::new(now);
    let placed = sim
        .submit(&order("buy", "limit", "1", Some("1")), &random_id(), now)
        .unwrap();
    let id = OrderId::parse(placed.order_id.as_deref().unwrap()).unwrap();
    let open = OrderListing {
        status: ListStatus::Open,
        limit: 50,
        after: None,
        ascending: false,
        nested: false,
    };
    assert_eq!(
        sim.orders(&open)
            .unwrap()
            .as_str()
            .matches("\"id\"")
            .count(),
        1
    );
    sim.cancel(id, now).unwrap();
    assert!(matches!(
        sim.cancel(id, now),
        Err(BrokerError::Refused { status: 422, .. })
    ));
    assert_eq!(sim.orders(&open).unwrap().as_str(), "[]");
    assert_eq!(cash(&sim), STARTING_CASH);
}

#[test]
fn a_client_order_id_is_used_once() {
    let now = Utc::now();
    let mut sim = Simulator::new(now);
    let id = random_id();
    sim.submit(&order("buy", "market", "1", None), &id, now)
        .unwrap();
    assert!(sim
        .submit(&order("buy", "market", "1", None), &id, now)
        .is_err());
    assert!(sim.find(&id).is_ok());
}

#[test]
fn buying_needs_the_cash() {
    let now = Utc::now();
    let mut sim = Simulator::new(now);
    let err = sim
        .submit(&order("buy", "market", "100000", None), &random_id(), now)
        .unwrap_err();
    assert!(matches!(err, BrokerError::Refused { status: 403, .. }));
    assert_eq!(cash(&sim), STARTING_CASH);
}

#[test]
fn amounts_beyond_the_decimal_range_are_refused_not_a_panic() {
    let now = Utc::now();
    let mut sim = Simulator::new(now);
    let mut huge = order("buy", "market", "1", None);
    huge.size = TicketSize::Qty(Decimal::MAX);
    let err = sim.submit(&huge, &random_id(), now).unwrap_err();
    assert!(matches!(err, BrokerError::Refused { status: 422, .. }));
    huge.size = TicketSize::Notional(Decimal::MAX);
    assert!(sim.submit(&huge, &random_id(), now).is_err());
    assert_eq!(cash(&sim), STARTING_CASH);
}

#[test]
fn a_trailing_stop_and_a_bracket_rest_and_show_their_trail_and_class() {
    let now = Utc::now();
    let mut sim = Simulator::new(now);
    let mut trailing = order("buy", "market", "1", None);
    trailing.kind = TicketKind::TrailingStop {
        trail: crate::broker::TicketTrail::Percent(Decimal::from_str("1.5").unwrap()),
    };
    let placed = sim.submit(&trailing, &random_id(), now).unwrap();
    let body: Value = serde_json::from_str(placed.body.as_str()).unwrap();
    assert_eq!(
        (&body["type"], &body["trail_percent"], &body["status"]),
        (&json!("trailing_stop"), &json!("1.5"), &json!("new"))
    );
    let mut bracket = order("buy", "limit", "1", Some("1"));
    bracket.legs = Some(crate::broker::TicketLegs {
        class: "bracket",
        take_profit: Some(Decimal::from_str("2").unwrap()),
        stop_loss: Some((Decimal::from_str("0.5").unwrap(), None)),
    });
    let placed = sim.submit(&bracket, &random_id(), now).unwrap();
    let body: Value = serde_json::from_str(placed.body.as_str()).unwrap();
    assert_eq!(body["order_class"], "bracket");
    assert_eq!(cash(&sim), STARTING_CASH);
}
