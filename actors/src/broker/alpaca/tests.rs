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
