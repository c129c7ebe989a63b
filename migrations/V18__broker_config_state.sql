-- The configured kill switch as last recorded (issue 24): one row, compared and set by each
-- process when it starts or re-reads its configuration, in the transaction that appends the
-- `kill_switch.engage`/`kill_switch.release` audit row with source `config`, so a change of the
-- configuration (`heroku config:set ALPACA_AUTH_MODE=''`) is audited once across dynos.
CREATE TABLE broker_config_state (
    id          BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    engaged     BOOLEAN NOT NULL,
    -- Why the configuration stops trading; empty when it allows trading.
    reason      TEXT NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
