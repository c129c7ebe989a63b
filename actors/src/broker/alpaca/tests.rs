//! Unit tests of the Alpaca client.

use super::*;

#[test]
fn refusals_carry_alpacas_message_and_body() {
    let body = r#"{"code": 40310000, "message": "insufficient buying power"}"#;
    match refusal(403, body) {
        BrokerError::Refused {
            status,
            message,
            body: kept,
        } => {
            assert_eq!(
                (status, message.as_str()),
                (403, "insufficient buying power")
            );
            assert_eq!(kept, body);
        }
        other => panic!("{other:?}"),
    }
    let BrokerError::Refused { message, .. } = refusal(422, "not json") else {
        panic!()
    };
    assert_eq!(message, "the broker refused the request");
}

#[test]
fn order_lists_are_filtered_without_touching_the_orders() {
    let all = BrokerJson::parse(
        r#"[{"id":"a","client_order_id":"mine","qty":1,"filled_avg_price":null},
            {"id":"b","client_order_id":"theirs","qty":"2.50"},
            {"id":"c","client_order_id":"mine-too","notional":"10.000"}]"#
            .to_owned(),
    )
    .unwrap();
    let only: HashSet<String> = ["mine".to_owned(), "mine-too".to_owned()].into();
    let kept = keep_orders(&all, &only, 10).unwrap();
    assert_eq!(
        kept.as_str(),
        r#"[{"id":"a","client_order_id":"mine","qty":1,"filled_avg_price":null},{"id":"c","client_order_id":"mine-too","notional":"10.000"}]"#
    );
    assert_eq!(
        keep_orders(&all, &only, 1)
            .unwrap()
            .as_str()
            .matches("\"id\"")
            .count(),
        1
    );
}

#[test]
fn the_live_host_cannot_be_configured_even_by_mistake() {
    let config = BrokerConfig {
        kind: crate::broker::BrokerKind::AlpacaPaper,
        trading_enabled: true,
        base_url: "https://API.alpaca.markets".into(),
        api_key: Some("key".into()),
        api_secret: Some("secret".into()),
        request_timeout: Duration::from_secs(1),
        rate_limit_per_minute: 1,
        deployed: false,
    };
    assert!(AlpacaClient::new(&config).is_err());
}
